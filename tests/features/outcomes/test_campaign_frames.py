"""Reading a campaign's members and outcome events from the export folder."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from features.config import Settings
from features.export.loading import load
from features.export.tables import CAMPAIGN_MEMBER_DTYPES, OUTCOME_EVENT_DTYPES
from features.outcomes.frames import load_campaign_frames, stored_frames
from tests.conftest import write_export


def _export(tmp_path: Path, export_dir: Path) -> Path:
    members = """
campaign_id,patient_id,assigned_at,arm,channel
old,p1,2023-03-01T09:00:00,treatment,sms
new,p1,2023-05-01T09:00:00,treatment,sms
new,p2,2023-05-01T09:00:00,holdout,
new,p3,2023-05-01T09:00:00,treatment,
"""
    events = """
event_id,patient_id,campaign_id,channel,type,at,revenue,cost,appointment_at
e1,p1,new,sms,sent,2023-05-01T10:00:00+02:00,,0.07,
e2,p1,,,booked,2023-05-02T10:00:00,,,2023-05-09T10:00:00
e3,p3,new,email,sent,2023-05-01T10:00:00,,,
"""
    for name, text in (("campaign_members", members), ("outcome_events", events)):
        (export_dir / f"{name}.csv").write_text(text.strip() + "\n")
    return export_dir


def test_the_latest_campaign_of_the_clinic_is_read_in_contract_dtypes(tmp_path, export_dir):
    folder = _export(tmp_path, export_dir)
    tables = load(folder, Settings()).tables
    frames = load_campaign_frames(Settings(), "north", None, folder, tables)
    assert frames.campaign_id == "new"
    assert sorted(frames.members["patient_id"]) == ["p1", "p2"]  # p3 is clinic south's
    assert {c: str(t) for c, t in frames.members.dtypes.items()} == CAMPAIGN_MEMBER_DTYPES
    assert {c: str(t) for c, t in frames.events.dtypes.items()} == OUTCOME_EVENT_DTYPES
    assert list(frames.events["event_id"]) == ["e1", "e2"]
    assert frames.events.loc[0, "at"] == pd.Timestamp("2023-05-01 10:00")  # local wall time
    assert set(frames.visits["patient_id"]) <= {"p1", "p2"}


def test_without_outcome_events_the_campaign_still_loads(tmp_path, export_dir):
    folder = _export(tmp_path, export_dir)
    (folder / "outcome_events.csv").unlink()
    tables = load(folder, Settings()).tables
    frames = load_campaign_frames(Settings(), "north", "old", folder, tables)
    assert frames.events.empty and list(frames.members["patient_id"]) == ["p1"]


def test_an_export_without_campaign_members_is_refused_by_name(tmp_path):
    folder = write_export(tmp_path / "x", visits="""
visit_id,patient_id,visit_at,status,booked_at,service,provider_id,location_id,revenue
v1,p1,2023-01-10,completed,2023-01-01,botox,dr_a,loc1,350
""")
    tables = load(folder, Settings()).tables
    with pytest.raises(FileNotFoundError, match="campaign_members"):
        load_campaign_frames(Settings(), "default", None, folder, tables)


def test_the_store_seam_returns_contract_frames():
    members, events = stored_frames(Settings(), "north")
    assert list(members.columns) == list(CAMPAIGN_MEMBER_DTYPES)
    assert list(events.columns) == list(OUTCOME_EVENT_DTYPES)
