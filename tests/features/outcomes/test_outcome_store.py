"""The outcome store: append-only, idempotent, one transaction per batch, durable reopen."""

from __future__ import annotations

import pandas as pd
import pytest

from features.export.tables import CAMPAIGN_MEMBER_DTYPES, OUTCOME_EVENT_DTYPES
from features.outcomes.ingest import ingest
from features.outcomes.store import CampaignExists, OutcomeStore
from tests.features.outcomes.conftest import PATIENTS, sent

NOW = pd.Timestamp("2024-06-01 12:00")


def test_a_retried_batch_is_counted_as_duplicates_and_stored_once(store, settings) -> None:
    batch = [sent("e1"), sent("e2", "p2"), {**sent("e3"), "type": "opted_out"}]
    first = ingest(store, "north", batch, PATIENTS, settings, now=NOW)
    again = ingest(store, "north", batch, PATIENTS, settings, now=NOW)
    assert (first.accepted, first.duplicates, first.rejected) == (3, 0, [])
    assert (again.accepted, again.duplicates, again.rejected) == (0, 3, [])
    assert store.count_events("north") == 3
    assert len(again.stored) == 0


def test_an_event_id_repeated_within_one_batch_is_a_duplicate(store, settings) -> None:
    result = ingest(store, "north", [sent("e1"), sent("e1")], PATIENTS, settings, now=NOW)
    assert (result.accepted, result.duplicates) == (1, 1)
    assert store.count_events() == 1


def test_repeats_within_a_batch_are_judged_against_the_first_and_the_stored(
    store, settings
) -> None:
    ingest(store, "north", [sent("old", cost=1.0)], PATIENTS, settings, now=NOW)
    batch = [sent("new"), sent("new", cost=2.0), sent("new"), sent("old", cost=1.0),
             sent("old", cost=3.0), sent("other")]
    result = ingest(store, "north", batch, PATIENTS, settings, now=NOW)
    assert (result.accepted, result.duplicates) == (2, 2)
    assert result.rejected == [{"index": 1, "field": "event_id", "reason": "conflict"},
                               {"index": 4, "field": "event_id", "reason": "conflict"}]
    assert sorted(result.stored["event_id"]) == ["new", "other"]
    stored = store.events_frame("north").set_index("event_id")
    assert stored["cost"].isna()["new"] and stored.loc["old", "cost"] == 1.0


def test_a_known_event_id_with_other_content_is_rejected_as_a_conflict(store, settings) -> None:
    ingest(store, "north", [sent("e1", cost=0.05)], PATIENTS, settings, now=NOW)
    result = ingest(store, "north", [sent("e2"), sent("e1", cost=0.07)], PATIENTS, settings,
                    now=NOW)
    assert result.accepted == 1
    assert result.rejected == [{"index": 1, "field": "event_id", "reason": "conflict"}]
    stored = store.events_frame("north").set_index("event_id")
    assert stored.loc["e1", "cost"] == 0.05


def test_the_same_event_id_in_two_clinics_are_two_events(store, settings) -> None:
    ingest(store, "north", [sent("e1")], PATIENTS, settings, now=NOW)
    result = ingest(store, "south", [sent("e1", cost=1.0)], PATIENTS, settings, now=NOW)
    assert (result.accepted, result.rejected) == (1, [])
    assert store.count_events("north") == store.count_events("south") == 1


def test_events_of_another_clinics_patient_are_rejected_and_nothing_of_them_is_stored(
    store, settings
) -> None:
    batch = [sent("e1", "p1"), sent("e2", "someone-elses"), sent("e3", "p2")]
    result = ingest(store, "north", batch, PATIENTS, settings, now=NOW)
    assert result.rejected == [
        {"index": 1, "field": "patient_id", "reason": "not a patient of this clinic"}
    ]
    assert "someone-elses" not in str(result.rejected)
    frame = store.events_frame()
    assert sorted(frame["event_id"]) == ["e1", "e3"]
    assert "someone-elses" not in set(frame["patient_id"])


def test_frames_come_back_with_the_contract_columns_and_dtypes(store, settings) -> None:
    ingest(store, "north", [
        {**sent("e1", at="2024-03-01T10:00:00+00:00"), "cost": 0.05},
        {"event_id": "e2", "patient_id": "p2", "type": "booked", "at": "2024-03-02",
         "appointment_at": "2024-03-20T09:30:00"},
        {"event_id": "e3", "patient_id": "p2", "type": "attended", "at": "2024-03-20T10:00:00",
         "revenue": 120.5},
    ], PATIENTS, settings, now=NOW)
    events = store.events_frame("north")
    assert list(events.columns) == ["clinic_id", *OUTCOME_EVENT_DTYPES]
    assert {c: str(events[c].dtype) for c in OUTCOME_EVENT_DTYPES} == OUTCOME_EVENT_DTYPES
    by_id = events.set_index("event_id")
    assert by_id.loc["e1", "at"] == pd.Timestamp("2024-03-01 11:00")  # UTC -> Paris (CET)
    assert by_id.loc["e2", "appointment_at"] == pd.Timestamp("2024-03-20 09:30")
    assert by_id.loc["e3", "revenue"] == 120.5 and pd.isna(by_id.loc["e3", "channel"])


def test_a_campaign_is_recorded_with_its_members_once(store) -> None:
    members = pd.DataFrame({"patient_id": ["p1", "p2"], "arm": ["treatment", "holdout"],
                            "channel": ["sms", None]})
    started = pd.Timestamp("2024-05-01 09:00")
    store.create_campaign("north", "spring", name="Spring", started_at=started,
                          holdout_share=0.5, seed=7, request={"limit": 2}, members=members)
    with pytest.raises(CampaignExists):
        store.create_campaign("north", "spring", name="again", started_at=started,
                              holdout_share=0.1, seed=8, request={}, members=members.iloc[:1])
    frame = store.members_frame("north", "spring")
    assert list(frame.columns) == ["clinic_id", *CAMPAIGN_MEMBER_DTYPES]
    assert {c: str(frame[c].dtype) for c in CAMPAIGN_MEMBER_DTYPES} == CAMPAIGN_MEMBER_DTYPES
    assert sorted(zip(frame["patient_id"], frame["arm"], strict=True)) == [
        ("p1", "treatment"), ("p2", "holdout")]
    assert (frame["assigned_at"] == started).all()
    record = store.campaign("north", "spring")
    assert (record["name"], record["seed"], record["request"]) == ("Spring", 7, {"limit": 2})
    assert store.campaign("south", "spring") is None


def test_events_naming_a_campaign_need_a_campaign_the_clinic_started(store, settings) -> None:
    store.create_campaign("north", "spring", name=None, started_at=NOW, holdout_share=0.1,
                          seed=1, request={}, members=pd.DataFrame(
                              {"patient_id": [], "arm": [], "channel": []}))
    result = ingest(store, "north", [sent("e1", campaign_id="spring"),
                                     sent("e2", campaign_id="autumn")], PATIENTS, settings,
                    now=NOW)
    assert result.accepted == 1
    assert result.rejected == [
        {"index": 1, "field": "campaign_id", "reason": "not a campaign of this clinic"}]


def test_a_reopened_store_keeps_every_outcome(store, settings) -> None:
    batch = [sent(f"e{i}", PATIENTS[i % 3]) for i in range(50)]
    ingest(store, "north", batch, PATIENTS, settings, now=NOW)
    before = store.events_frame()
    reopened = OutcomeStore(store.url)
    try:
        pd.testing.assert_frame_equal(reopened.events_frame(), before)
        assert ingest(reopened, "north", batch, PATIENTS, settings, now=NOW).duplicates == 50
    finally:
        reopened.close()
