"""merge_outcomes: posted contacts and recorded members join the export, never twice."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from features.export.loading import load
from features.outcomes.ingest import ingest
from features.outcomes.merge import merge_outcomes

NOW = pd.Timestamp("2024-06-01")


def test_posted_sends_and_members_join_the_export_once_and_visits_stay(
    export_dir: Path, store, settings
) -> None:
    tables = load(export_dir).tables
    north = pd.Index(["p1", "p2"])
    store.create_campaign("north", "camp9", name=None, started_at=pd.Timestamp("2023-03-31"),
                          holdout_share=0.5, seed=3, request={}, members=pd.DataFrame(
                              {"patient_id": ["p1", "p2"], "arm": ["treatment", "holdout"],
                               "channel": ["sms", "sms"]}))
    ingest(store, "north", [
        # the export's c1 again (same patient, channel, minute) and c2 by its id
        {"event_id": "e1", "patient_id": "p1", "type": "sent", "channel": "sms",
         "at": "2023-03-01T00:00:30"},
        {"event_id": "c2", "patient_id": "p2", "type": "sent", "channel": "email",
         "at": "2023-03-01T09:00:00"},
        {"event_id": "e3", "patient_id": "p2", "type": "sent", "channel": "sms",
         "at": "2023-04-01T10:00:00", "campaign_id": "camp9"},
        {"event_id": "e3r", "patient_id": "p2", "type": "replied", "channel": "sms",
         "at": "2023-04-02T08:00:00"},
        {"event_id": "e4", "patient_id": "p2", "type": "sent", "channel": "phone",
         "at": "2023-07-01T10:00:00"},  # after the export date
        {"event_id": "e5", "patient_id": "p2", "type": "attended", "at": "2023-04-10"},
    ], north, settings, now=NOW)
    ingest(store, "north", [{"event_id": "e6", "patient_id": "p3", "type": "sent",
                             "channel": "sms", "at": "2023-05-20"}],
           pd.Index(["p3"]), settings, now=NOW)  # p3 is south's patient, not north's
    ingest(store, "south", [{"event_id": "e7", "patient_id": "p3", "type": "sent",
                             "channel": "mail", "at": "2023-05-20"}],
           pd.Index(["p3"]), settings, now=NOW)
    merged = merge_outcomes(tables, store)
    added = merged.contacts.iloc[len(tables.contacts):].set_index("contact_id")
    assert sorted(added.index) == ["e3", "e7"]
    assert added.loc["e3", "responded_at"] == pd.Timestamp("2023-04-02 08:00")
    assert added.loc["e3", "campaign_id"] == "camp9" and not added.loc["e3", "opted_out"]
    assert pd.isna(added.loc["e7", "responded_at"])
    assert merged.contacts.dtypes.equals(tables.contacts.dtypes)
    pd.testing.assert_frame_equal(merged.visits, tables.visits)
    assert sorted(zip(merged.campaign_members["patient_id"], merged.campaign_members["arm"],
                      strict=True)) == [("p1", "treatment"), ("p2", "holdout")]
    assert merge_outcomes(tables, store).contacts.shape == merged.contacts.shape  # pure
    assert len(tables.contacts) == 4 and tables.campaign_members is None  # input untouched
