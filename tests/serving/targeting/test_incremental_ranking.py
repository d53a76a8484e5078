"""Ranking by the bookings a message adds: orderings, the honest fallback, channel and kind."""

from __future__ import annotations

import numpy as np

from features.config import Settings
from features.vocabulary import CHANNELS
from serving.targeting.index import build_index
from serving.targeting.kinds import LEFT_ALONE, NEEDS_NUDGE, ON_THEIR_OWN, UNLIKELY, patient_kinds
from serving.targeting.ranking import (
    RankFilters,
    find_patients,
    patient_records,
    rank_patients,
    resolve_ordering,
)
from tests.serving.frames import snapshot

SETTINGS = Settings()
# return probability falls with the patient number (0.9 .. 0.1); uplift rises with it.
UPLIFT = np.array([0.0, -0.02, 0.005, 0.03, 0.05, 0.08])


def _with_uplift():
    frame = snapshot(6, "north")
    for j, channel in enumerate(CHANNELS):
        frame[f"uplift_{channel}"] = UPLIFT * (1.0 + 0.1 * j)  # mail adds the most
    frame["uplift"] = frame["uplift_mail"]
    revenue = frame["expected_value"] / frame["return_probability"]
    frame["incremental_value"] = frame["uplift"] * revenue
    return frame


def test_ranking_by_uplift_puts_the_patients_a_message_moves_first() -> None:
    index = build_index(_with_uplift(), SETTINGS)
    selection = rank_patients(index, "north", RankFilters(), limit=6, rank_by="uplift")
    ids = [r["patient_id"] for r in patient_records(index, selection, SETTINGS)]
    assert ids == [f"north-p{i}" for i in (5, 4, 3, 2, 0, 1)]


def test_the_channel_is_the_one_adding_the_most_value_among_the_campaigns_channels() -> None:
    costs = {c: 0.0 for c in CHANNELS}
    settings = SETTINGS.model_copy(update={"policy": SETTINGS.policy.model_copy(
        update={"channel_costs": costs})})
    index = build_index(_with_uplift(), settings)
    top = rank_patients(index, "north", RankFilters(channels=["sms", "email"]), limit=1,
                        rank_by="incremental_value")
    record = patient_records(index, top, settings)[0]
    assert record["best_channel"] == "email"  # email's uplift is 1.1 x sms's, both free
    assert record["uplift"] == np.float64(UPLIFT[5] * 1.1).item()
    assert record["patient_kind"] == NEEDS_NUDGE


def test_without_an_uplift_estimate_an_uplift_ordering_falls_back_and_says_so() -> None:
    index = build_index(snapshot(6, "north"), SETTINGS)
    used, why = resolve_ordering(index, "incremental_value", "probability", "")
    assert used == "probability" and "no uplift estimate" in why
    used, why = resolve_ordering(index, None, "incremental_value", "backtest said so")
    assert used == "probability" and "return probability" in why
    records = patient_records(index, rank_patients(index, "north", RankFilters(), 6), SETTINGS)
    assert {r["patient_kind"] for r in records} == {None}


def test_the_bundles_default_ordering_is_used_when_the_request_names_none() -> None:
    index = build_index(_with_uplift(), SETTINGS)
    assert resolve_ordering(index, None, "incremental_value", "held-out campaigns") == \
        ("incremental_value", "held-out campaigns")
    assert resolve_ordering(index, "probability", "incremental_value", "x")[0] == "probability"


def test_patient_kinds_follow_uplift_first_then_return_probability() -> None:
    kinds = patient_kinds(np.array([0.05, 0.001, 0.001, -0.05, np.nan]),
                          np.array([0.2, 0.9, 0.1, 0.9, 0.5]), SETTINGS)
    assert kinds.tolist() == [NEEDS_NUDGE, ON_THEIR_OWN, UNLIKELY, LEFT_ALONE, None]


def test_named_patients_are_ranked_in_the_ordering_asked_for() -> None:
    index = build_index(_with_uplift(), SETTINGS)
    for ordering in ("probability", "uplift", "incremental_value", "expected_value"):
        listed = rank_patients(index, "north", RankFilters(), limit=6, rank_by=ordering)
        ids = index.frame["patient_id"].to_numpy()[listed.rows]
        by_id = dict(zip(ids, listed.ranks.tolist(), strict=True))
        asked = ["north-p2", "north-p5", "north-p0"]
        found = find_patients(index, "north", asked, None, ordering).selection
        assert index.frame["patient_id"].to_numpy()[found.rows].tolist() == asked
        assert found.ranks.tolist() == [by_id[i] for i in asked], ordering
    uplift_ranks = find_patients(index, "north", ["north-p5"], None, "uplift").selection.ranks
    probability_ranks = find_patients(index, "north", ["north-p5"], None).selection.ranks
    assert (uplift_ranks.tolist(), probability_ranks.tolist()) == ([1], [6])
