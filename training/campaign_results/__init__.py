"""Campaign results: conversion, kept visits, revenue, cost and ROI, the lift against the
randomised holdout, and the attribution figures beside it (pure functions over frames)."""

from __future__ import annotations

from training.campaign_results.results import campaign_results

__all__ = ["campaign_results"]
