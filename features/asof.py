"""The point-in-time rule, written once.

An as-of date T means the *end* of that day: an event is known at T when its timestamp is
strictly before ``T + 1 day`` (``ts < cutoff(T)``). Labels look at completed visits on days
T+1 … T+H, i.e. ``cutoff(T) <= visit_at < cutoff(T) + H days``. Every feature family and
every label goes through these helpers so the rule cannot drift between modules.
"""

from __future__ import annotations

import pandas as pd


def as_timestamp(as_of: str | pd.Timestamp) -> pd.Timestamp:
    """Normalise an as-of date (date or timestamp) to midnight of that day."""
    return pd.Timestamp(as_of).normalize()


def cutoff(as_of: str | pd.Timestamp) -> pd.Timestamp:
    """The first instant *not* known at ``as_of``: midnight after the as-of day."""
    return as_timestamp(as_of) + pd.Timedelta(days=1)


def known_at(frame: pd.DataFrame, column: str, as_of: str | pd.Timestamp) -> pd.DataFrame:
    """Rows of ``frame`` whose ``column`` timestamp is known at ``as_of`` (``< cutoff``)."""
    return frame.loc[frame[column] < cutoff(as_of)]


def in_label_window(ts: pd.Series, as_of: str | pd.Timestamp, horizon_days: int) -> pd.Series:
    """Boolean mask: ``ts`` falls on a day in T+1 … T+H."""
    start = cutoff(as_of)
    return (ts >= start) & (ts < start + pd.Timedelta(days=horizon_days))
