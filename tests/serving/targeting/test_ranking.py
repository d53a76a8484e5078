"""Ranking and lookup over hand-made snapshots: filters, order, ranks and tenant isolation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.config import Settings
from serving.targeting.index import build_index
from serving.targeting.ranking import (
    RankFilters,
    UnknownClinicError,
    find_patients,
    patient_records,
    rank_patients,
)
from tests.serving.frames import snapshot

SETTINGS = Settings()


@pytest.fixture
def index():
    """Two clinics: north (6 patients) and south (4 patients)."""
    frame = pd.concat([snapshot(6, "north"), snapshot(4, "south", seed=1)], ignore_index=True)
    return build_index(frame.sample(frac=1.0, random_state=3), SETTINGS)


def ids(index, selection) -> list[str]:
    return [r["patient_id"] for r in patient_records(index, selection, SETTINGS)]


def test_patients_come_best_first_with_ranks_from_one(index) -> None:
    selection = rank_patients(index, "north", RankFilters(), limit=10)
    assert ids(index, selection) == [f"north-p{i}" for i in range(6)]
    assert selection.ranks.tolist() == [1, 2, 3, 4, 5, 6]
    assert selection.total_eligible == 6


def test_ranking_by_expected_value_reverses_this_snapshot(index) -> None:
    selection = rank_patients(index, "north", RankFilters(), limit=3, rank_by="expected_value")
    assert ids(index, selection) == ["north-p5", "north-p4", "north-p3"]


def test_limit_cuts_the_list_but_total_counts_every_eligible_patient(index) -> None:
    selection = rank_patients(index, "north", RankFilters(), limit=2)
    assert len(selection.rows) == 2 and selection.total_eligible == 6


def test_filters_combine_and_unknown_values_match_nothing(index) -> None:
    frame = index.frame.set_index("patient_id")
    filters = RankFilters(
        segments=["lapsing", "dormant"], services=["botox"], location_ids=["loc1"]
    )
    listed = ids(index, rank_patients(index, "north", filters, limit=100))
    expected = frame[
        (frame.clinic_id == "north")
        & frame.segment.isin(["lapsing", "dormant"])
        & (frame.last_service == "botox")
        & (frame.location_id == "loc1")
    ].index
    assert listed and set(listed) == set(expected)
    assert rank_patients(index, "north", RankFilters(services=["tattoo"]), 100).total_eligible == 0


def test_days_since_visit_bounds_are_inclusive(index) -> None:
    frame = index.frame[index.frame.clinic_id == "north"]
    low, high = sorted(frame.days_since_last_visit)[1:3]
    filters = RankFilters(min_days_since_visit=low, max_days_since_visit=high)
    listed = ids(index, rank_patients(index, "north", filters, 100))
    days = frame.set_index("patient_id").loc[listed, "days_since_last_visit"]
    assert len(listed) == 2 and days.between(low, high).all()


def test_campaign_channels_decide_the_best_channel(index) -> None:
    records = patient_records(
        index, rank_patients(index, "north", RankFilters(channels=["sms", "email"]), 3), SETTINGS
    )
    assert {r["best_channel"] for r in records} == {"email"}
    assert all(set(r["channel_probabilities"]) == {"sms", "email"} for r in records)


def test_another_clinics_patients_never_appear(index) -> None:
    listed = ids(index, rank_patients(index, "south", RankFilters(), 100))
    assert listed and all(pid.startswith("south-") for pid in listed)
    lookup = find_patients(index, "south", ["north-p0", "south-p1"], None)
    assert lookup.not_found == ["north-p0"]
    assert ids(index, lookup.selection) == ["south-p1"]


def test_unknown_clinic_is_an_error(index) -> None:
    with pytest.raises(UnknownClinicError):
        rank_patients(index, "west", RankFilters(), 10)


def test_lookup_splits_found_patients_by_policy_and_ranks_them_in_the_full_list() -> None:
    frame = snapshot(
        5, do_not_contact=pd.array([False, True, False, False, False], dtype="boolean")
    )
    index = build_index(frame, SETTINGS)
    lookup = find_patients(index, "north", ["north-p3", "north-p1", "nobody", "north-p3"], None)
    assert ids(index, lookup.selection) == ["north-p3"]
    assert lookup.selection.ranks.tolist() == [3]  # p1 is blocked, so p3 is third
    assert lookup.blocked_ids == ["north-p1"] and lookup.blocked_rules == [["do_not_contact"]]
    assert lookup.not_found == ["nobody"]


def test_records_carry_snapshot_values_and_nulls_for_unknowns() -> None:
    frame = snapshot(2, expected_value=[np.nan, 10.0], last_service=[None, "botox"])
    index = build_index(frame, SETTINGS)
    first, second = patient_records(
        index, rank_patients(index, "north", RankFilters(), 2), SETTINGS
    )
    assert first["expected_value"] is None and first["last_service"] is None
    assert second["expected_value"] == 10.0 and second["last_service"] == "botox"
    assert first["return_probability"] == pytest.approx(0.9)


def test_a_snapshot_repeating_a_patient_is_refused() -> None:
    frame = snapshot(2)
    with pytest.raises(ValueError, match="repeats"):
        build_index(pd.concat([frame, frame.iloc[:1]]), SETTINGS)


def test_the_probability_ordering_follows_the_rank_score_where_probabilities_tie() -> None:
    frame = snapshot(5, "north", return_probability=0.4, expected_value=100.0,
                     rank_score=[0.1, 0.5, 0.3, 0.2, 0.4])
    index = build_index(frame, SETTINGS)
    by_probability = rank_patients(index, "north", RankFilters(), limit=5)
    assert ids(index, by_probability) == [f"north-p{i}" for i in (1, 4, 2, 3, 0)]
    # another ordering's ties go to the probability order too, not to the patient id
    by_value = rank_patients(index, "north", RankFilters(), limit=5, rank_by="expected_value")
    assert ids(index, by_value) == ids(index, by_probability)
