"""Episodes of care and regularity, checked by hand and for point-in-time."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal

from features.pipeline import episodes

from .test_features_properties import BASE, PROPERTY_SETTINGS, SETTINGS, stamp, tables_of


def _course(patient: str, first: str, visits: int, every: int = 7,
            service: str = "physiotherapy") -> list[dict]:
    start = pd.Timestamp(first)
    return [{"patient_id": patient, "visit_at": start + pd.Timedelta(days=every * i),
             "service": service} for i in range(visits)]


VISITS = [
    # a: two finished courses of 6, then 3 visits into a third
    *_course("a", "2023-01-02", 6), *_course("a", "2023-09-04", 6),
    *_course("a", "2024-06-03", 3),
    # b: one course of 6 long finished
    *_course("b", "2023-03-06", 6),
    # c: half a year apart, clockwork
    *_course("c", "2022-07-01", 5, every=182, service="hygiene"),
    # d: a course still running (4 visits), last one a week before T
    *_course("d", "2024-05-27", 4),
]
AS_OF = "2024-06-24"


@pytest.fixture
def features(make_tables, settings):
    return episodes.build(make_tables(VISITS), AS_OF, settings)


def test_the_current_episode_starts_after_the_last_long_break(features):
    assert features.loc["a", "episode_visits"] == 3
    assert features.loc["a", "episodes_lifetime"] == 3
    assert features.loc["a", "episode_interval_days"] == 7
    assert features.loc["d", "episode_visits"] == 4
    assert features.loc["c", "episode_visits"] == 4  # 182-day gaps are its own rhythm


def test_typical_course_length_counts_only_finished_episodes(features):
    # finished physiotherapy episodes: a's two and b's one, 6 visits each; d's and a's
    # current ones are still open at T
    assert features.loc["a", "course_length_typical"] == 6
    assert features.loc["d", "episode_progress"] == pytest.approx(4 / 6)
    assert features.loc["b", "episode_complete"] == 1.0
    assert features.loc["d", "episode_complete"] == 0.0


def test_regular_gaps_have_zero_spread(features):
    assert features.loc["c", "gap_cv"] == 0.0
    assert features.loc["a", "gap_cv"] > 1.0


def test_patients_without_visits_have_unknown_episodes(make_tables, settings):
    frame = episodes.build(make_tables(VISITS + [
        {"patient_id": "e", "visit_at": "2024-08-01", "service": "physiotherapy"}]),
        AS_OF, settings)
    e = frame.loc["e"]
    assert e["episodes_lifetime"] == 0
    assert e[["episode_visits", "course_length_typical", "episode_complete"]].isna().all()


@st.composite
def course_rows(draw, days: tuple[int, int]) -> list[dict]:
    """Runs of weekly visits separated by long breaks, for five patients."""
    rows = []
    for _ in range(draw(st.integers(0, 6))):
        patient = draw(st.sampled_from([f"p{i}" for i in range(5)]))
        start = draw(st.integers(*days))
        for k in range(draw(st.integers(1, 8))):
            rows.append({"patient_id": patient, "visit_at": stamp(start + 7 * k, 0),
                         "status": draw(st.sampled_from(["completed", "completed", "no_show"])),
                         "booked_at": None, "service": draw(st.sampled_from(["physio", "chiro"])),
                         "provider_id": None, "location_id": None, "revenue": None})
    return rows


@given(data=st.data(), as_of_day=st.integers(30, 700))
@PROPERTY_SETTINGS
def test_episode_features_at_t_ignore_visits_after_t(data, as_of_day):
    as_of = BASE + pd.Timedelta(days=as_of_day)
    before = [r for r in data.draw(course_rows((0, as_of_day))) if r["visit_at"] < as_of
              + pd.Timedelta(days=1)]
    after = data.draw(course_rows((as_of_day + 1, as_of_day + 400)))
    clinics = ["k1", "k1", "k2", "k1", "k2"]
    known = tables_of(before, [], clinics, False)
    more = tables_of(before + after, [], clinics, False)
    assert_frame_equal(episodes.build(known, as_of, SETTINGS),
                       episodes.build(more, as_of, SETTINGS))
