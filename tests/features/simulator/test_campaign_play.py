"""The simulator's "play the campaign" step: outcome events from the clinic's own dynamics."""

from __future__ import annotations

import pandas as pd
import pytest

from features.export.tables import OUTCOME_EVENT_DTYPES
from features.simulator import Simulation, campaign_effect, campaign_members, play_campaign
from features.vocabulary import CHANNELS, CONTACT_EVENT_TYPES, OUTCOME_TYPES, VISIT_EVENT_TYPES


@pytest.fixture(scope="module")
def played(small_sim: Simulation) -> tuple[pd.DataFrame, pd.DataFrame]:
    members = campaign_members(small_sim, "spring", seed=3, holdout_share=0.3)
    return members, play_campaign(small_sim, members, seed=4)


def test_members_are_lapsed_patients_assigned_after_the_export(small_sim, played):
    members, _ = played
    assert len(members) > 50 and members["patient_id"].is_unique
    assert (members["assigned_at"] > small_sim.tables.export_date).all()
    assert set(members["arm"]) == {"treatment", "holdout"}
    assert set(members["channel"]) <= set(CHANNELS)


def test_events_follow_the_contract_with_unique_ids(played):
    _, events = played
    assert list(events.columns) == list(OUTCOME_EVENT_DTYPES)
    assert {c: str(t) for c, t in events.dtypes.items()} == OUTCOME_EVENT_DTYPES
    assert events["event_id"].is_unique
    assert set(events["type"]) <= set(OUTCOME_TYPES)
    contact = events["type"].isin(CONTACT_EVENT_TYPES)
    assert events.loc[contact, "campaign_id"].eq("spring").all()
    assert events.loc[contact, "channel"].isin(CHANNELS).all()
    visit = events["type"].isin(VISIT_EVENT_TYPES)
    assert events.loc[visit, "campaign_id"].isna().all()  # posted by the practice system
    booked = events["type"] == "booked"
    assert (events.loc[booked, "appointment_at"] > events.loc[booked, "at"]).all()
    assert events.loc[events["type"] == "attended", "revenue"].ge(0).all()


def test_holdout_members_are_never_contacted_but_do_book(played):
    members, events = played
    holdout = set(members.loc[members["arm"] == "holdout", "patient_id"])
    contacted = set(events.loc[events["type"] == "sent", "patient_id"])
    assert not holdout & contacted
    assert contacted <= set(members.loc[members["arm"] == "treatment", "patient_id"])
    assert holdout & set(events.loc[events["type"] == "booked", "patient_id"])


def test_a_treatment_member_gets_at_most_the_planned_attempts_a_week_apart(played):
    _, events = played
    sends = events[events["type"] == "sent"].sort_values("at")
    assert sends.groupby("patient_id").size().max() <= 2
    gaps = sends.groupby("patient_id")["at"].diff().dropna().dt.days
    assert gaps.between(6, 8).all()


def test_the_same_seed_plays_the_same_campaign(small_sim, played):
    members, events = played
    pd.testing.assert_frame_equal(play_campaign(small_sim, members, seed=4), events)
    assert not play_campaign(small_sim, members, seed=5).equals(events)


def test_the_true_effect_of_messages_is_positive(small_sim, played):
    members, _ = played
    effect = campaign_effect(small_sim, members, replications=50)
    assert effect["rate_contacted"] > effect["rate_not_contacted"]
    assert effect["expected_extra_bookings"] > 3 * effect["standard_error"]


def test_members_assigned_inside_the_simulated_period_are_refused(small_sim, played):
    members, _ = played
    early = members.assign(assigned_at=small_sim.tables.export_date - pd.Timedelta(days=3))
    with pytest.raises(ValueError, match="after the simulated period"):
        play_campaign(small_sim, early, seed=1)
