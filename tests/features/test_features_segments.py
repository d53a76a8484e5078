"""Segments by calendar and by the patient's own rhythm."""

from __future__ import annotations

import numpy as np

from features.config import SegmentConfig
from features.pipeline import segments


def test_calendar_thresholds_split_days_since_the_last_visit():
    days = np.array([0, 119, 120, 181, 182, 364, 365, 1094, 1095, 4000, np.nan])
    names = segments.calendar_segment(days, SegmentConfig()).tolist()
    assert names == ["active", "active", "lapsing", "lapsing", "inactive", "inactive",
                     "dormant", "dormant", "lost", "lost", None]


def test_cadence_segment_follows_the_overdue_ratio_and_caps_at_lost():
    days = np.array([100, 100, 100, 100, 1200, 50])
    ratio = np.array([1.0, 1.25, 2.5, 4.0, 0.5, np.nan])
    names = segments.cadence_segment(days, ratio, SegmentConfig()).tolist()
    assert names == ["active", "lapsing", "inactive", "dormant", "lost", None]


def test_short_cadence_patient_lapses_before_an_annual_patient(make_tables, settings):
    botox = [{"patient_id": "botox", "visit_at": d, "service": "botox"}
             for d in ("2023-01-01", "2023-04-01", "2023-07-01", "2023-10-01", "2024-01-01")]
    annual = [{"patient_id": "annual", "visit_at": d, "service": "hygiene"}
              for d in ("2021-01-05", "2022-01-05", "2023-01-05", "2024-01-05")]
    f = segments.build(make_tables(botox + annual), "2024-05-15", settings)
    assert f.loc["botox", "segment"] == f.loc["annual", "segment"] == "lapsing"
    assert f.loc["botox", "segment_cadence"] == "lapsing"  # 135 days on a ~91-day rhythm
    assert f.loc["annual", "segment_cadence"] == "active"  # 131 days on a yearly rhythm


def test_patient_without_a_completed_visit_has_no_segment(make_tables, settings):
    tables = make_tables([{"patient_id": "a", "visit_at": "2024-01-01", "status": "no_show"}])
    f = segments.build(tables, "2024-02-01", settings)
    assert f.loc["a"].isna().all()
