"""What the manager report shows, as plain tables: the seam between collecting and rendering.

``collect`` fills a :class:`ReportData` from the champion model and the newest scored
snapshot; ``render`` turns any :class:`ReportData` into HTML. Tests build one by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class ModelHealth:
    """How the model did on its backtest window, against simple rules.

    Attributes:
        aucs: AUC per ranking, indexed by plain name, the model first.
        calibration: per score band, ``predicted`` and ``observed`` return rates (0-1).
        gains: ``contacted`` share (0-1) and the share of returners reached per ranking.
        window: the backtest window in words, e.g. ``as of 2024-03-31, next 90 days``.
    """

    aucs: pd.Series
    calibration: pd.DataFrame | None = None
    gains: pd.DataFrame | None = None
    window: str | None = None


@dataclass(frozen=True)
class Explanations:
    """Global SHAP view of the model on the patients of the snapshot.

    Attributes:
        importance: ``label`` (plain meaning) and ``share`` of mean absolute SHAP, top first.
        values: SHAP values of a sample, rows x top features (same order as ``labels``).
        colour_rank: the sample's feature values as 0-1 ranks (NaN when not numeric).
        labels: plain meanings of the top features.
    """

    importance: pd.DataFrame
    values: np.ndarray
    colour_rank: np.ndarray
    labels: list[str]


@dataclass(frozen=True)
class ReportData:
    """Everything the report prints.

    Attributes:
        as_of: the date the snapshot describes (``YYYY-MM-DD``).
        horizon_days: the window "returns" refers to.
        segments: ``segment``, ``patients``, ``expected_returns``, ``expected_revenue``, in
            segment order (active ... lost).
        contacts: the top patients to contact: ``patient_id``, ``segment``, ``channel``,
            ``return_probability``, ``expected_value``, ``days_since_last_visit``, ``reasons``
            (one sentence); with an uplift estimate also ``kind``, ``uplift`` and
            ``incremental_value``.
        channel_mix: patients per segment (index) and best channel (columns).
        explanations: global SHAP importance, or None when no model explains.
        health: backtest figures, or None when the model carries none.
        drift: the latest drift summary (``serving.monitoring.drift.run_drift``), or None.
        model_version: registry version of the champion.
        currency: currency sign for money.
        notes: extra sentences (e.g. what was left out and why).
        campaign: a campaign's results (``training.campaign_results.campaign_results``),
            or None for no "Campaign results" section.
        ordering: how ``contacts`` is ordered (``probability`` or ``incremental_value``...).
        ordering_reason: why, in words (the bundle's backtest, or the fallback's reason).
        list_value: ``extra_bookings``, ``extra_revenue``, ``net_value`` of the list (with
            an uplift estimate), else None.
        on_their_own: contactable win-back patients likely to come back on their own
            (None without an uplift estimate); ``pool``: all contactable win-back patients.
        segment_words: each segment in words (from the configured thresholds).
    """

    as_of: str
    horizon_days: int
    segments: pd.DataFrame
    contacts: pd.DataFrame
    channel_mix: pd.DataFrame
    explanations: Explanations | None
    health: ModelHealth | None
    drift: dict[str, Any] | None
    model_version: str | None = None
    currency: str = "$"
    notes: list[str] = field(default_factory=list)
    campaign: dict[str, Any] | None = None
    ordering: str = "probability"
    ordering_reason: str = ""
    list_value: dict[str, float] | None = None
    on_their_own: int | None = None
    pool: int | None = None
    segment_words: dict[str, str] = field(default_factory=dict)
