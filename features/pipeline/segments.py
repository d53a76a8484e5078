"""Segments: where each patient stands, in words a practice manager uses.

Two views of the same question, both as of T:

* ``segment`` — calendar thresholds on days since the last completed visit (defaults: active
  under 120 days, lapsing to 6 months, inactive 6-12 months, dormant 12-36 months - of which
  24-36 still worth reaching - and lost beyond 36 months).
* ``segment_cadence`` — the patient's own rhythm: the overdue ratio (days since the last visit
  over the expected interval) against ``overdue_*_ratio`` thresholds, so a botox patient seen
  every 3-4 months is lapsing long before an annual patient is. Beyond the calendar ``lost``
  threshold every patient is lost whatever their rhythm.

Patients without a completed visit before the cutoff (midnight after day T) get no segment.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.config import SegmentConfig, Settings
from features.export.tables import Tables
from features.pipeline import cadence
from features.spec import typed_frame
from features.vocabulary import SEGMENTS


def build(tables: Tables, as_of: str | pd.Timestamp, settings: Settings) -> pd.DataFrame:
    """Segments of every patient of ``tables`` as of the end of day ``as_of``.

    Returns:
        Frame indexed by ``patient_id`` with ``segment`` and ``segment_cadence`` (one of
        ``SEGMENTS``, or None without a completed visit).
    """
    return from_cadence(cadence.build(tables, as_of, settings), settings)


def from_cadence(frame: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Segments from cadence features (``days_since_last_visit``, ``overdue_ratio``)."""
    values = columns(frame["days_since_last_visit"].to_numpy(np.float64),
                     frame["overdue_ratio"].to_numpy(np.float64), settings)
    return typed_frame(values, frame.index, "segments")


def columns(days: np.ndarray, ratio: np.ndarray, settings: Settings) -> dict[str, np.ndarray]:
    """Both segment columns from days since the last visit and the overdue ratio."""
    cfg = settings.features.segments
    return {
        "segment": calendar_segment(days, cfg),
        "segment_cadence": cadence_segment(days, ratio, cfg),
    }


def calendar_segment(days: np.ndarray, cfg: SegmentConfig) -> np.ndarray:
    """Segment names by calendar thresholds; None where ``days`` is NaN."""
    edges = [cfg.lapsing_days, cfg.inactive_days, cfg.dormant_days, cfg.lost_days]
    return _label(np.searchsorted(edges, days, side="right"), np.isnan(days))


def cadence_segment(days: np.ndarray, ratio: np.ndarray, cfg: SegmentConfig) -> np.ndarray:
    """Segment names by overdue ratio, lost beyond the calendar lost threshold."""
    edges = [cfg.overdue_lapsing_ratio, cfg.overdue_inactive_ratio, cfg.overdue_dormant_ratio]
    level = np.searchsorted(edges, np.nan_to_num(ratio), side="right")
    level = np.where(days >= cfg.lost_days, len(SEGMENTS) - 1, level)
    return _label(level, np.isnan(days) | np.isnan(ratio))


def _label(level: np.ndarray, missing: np.ndarray) -> np.ndarray:
    names = np.asarray(SEGMENTS, dtype=object)[np.clip(level, 0, len(SEGMENTS) - 1)]
    return np.where(missing, None, names)
