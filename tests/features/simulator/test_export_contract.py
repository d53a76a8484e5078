"""The simulated export obeys the data contract."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from features.export.loading import load
from features.export.tables import TABLE_DTYPES, conform
from features.simulator import Simulation, write_demo


def test_every_table_has_the_contract_columns_and_dtypes(small_sim: Simulation) -> None:
    t = small_sim.tables
    for name in ("patients", "visits", "contacts"):
        frame = getattr(t, name)
        assert list(frame.columns) == list(TABLE_DTYPES[name])
        pd.testing.assert_frame_equal(frame, conform(frame, name))


def test_only_scheduled_visits_lie_after_the_export_date(small_sim: Simulation) -> None:
    t = small_sim.tables
    v, c = t.visits, t.contacts
    after = v["visit_at"] > t.export_date
    assert (v.loc[after, "status"] == "scheduled").all()
    assert (v.loc[~after, "status"] != "scheduled").all(), "no stale scheduled visits"
    assert after.sum() > 0, "some appointments are booked for after the export"
    assert (v["booked_at"] <= t.export_date).all()
    assert (v["booked_at"] < v["visit_at"]).all()
    assert (c["sent_at"] <= t.export_date).all()
    assert (c["responded_at"].dropna() <= t.export_date).all()
    assert (c["responded_at"].dropna() >= c.loc[c["responded_at"].notna(), "sent_at"]).all()
    assert t.export_date.normalize() == small_sim.end


def test_ids_are_unique_and_every_event_has_a_patient(small_sim: Simulation) -> None:
    t = small_sim.tables
    assert t.patients["patient_id"].is_unique
    assert t.visits["visit_id"].is_unique
    assert t.contacts["contact_id"].is_unique
    known = set(t.patients["patient_id"])
    assert set(t.visits["patient_id"]) <= known
    assert set(t.contacts["patient_id"]) <= known


def test_written_demo_loads_strictly_into_the_same_tables(tmp_path: Path) -> None:
    sim = write_demo(tmp_path, 800, 2, "2024-01-01", "2025-03-31", truth_as_of=["2025-01-31"])
    assert {p.name for p in tmp_path.iterdir()} >= {"patients.csv", "visits.csv",
                                                    "contacts.csv", "truth"}
    assert {p.name for p in (tmp_path / "truth").iterdir()} == {
        "returns.parquet", "channels.parquet", "campaigns.parquet", "meta.json"}
    loaded = load(tmp_path).tables
    assert loaded.export_date == sim.tables.export_date
    for name in ("patients", "visits", "contacts"):
        got = getattr(loaded, name).reset_index(drop=True)[list(TABLE_DTYPES[name])]
        pd.testing.assert_frame_equal(got, getattr(sim.tables, name).reset_index(drop=True))
    raw = pd.read_csv(tmp_path / "patients.csv", dtype=str, keep_default_na=False)
    flags = raw[["consent_sms", "consent_email", "do_not_contact", "deceased"]].stack()
    assert set(flags) == {"true", "false", ""}
    assert raw["created_at"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
