"""Playing a campaign the service recorded on a clinic of the demo group."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from features.simulator import write_group_demo
from features.simulator.demo_play import play_group_campaign, rebuild_clinic


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("group")
    write_group_demo(out, {"aesthetics-1": 300, "dental-1": 400}, seed=5, start="2024-01-01",
                     end="2025-06-30", truth_as_of=["2025-06-30"])
    return out


def test_the_rebuilt_clinic_is_the_one_in_the_export(demo_dir: Path) -> None:
    sim = rebuild_clinic(demo_dir, "dental-1")
    exported = pd.read_csv(demo_dir / "patients.csv", dtype=str)
    dental = exported[exported["clinic_id"] == "dental-1"]
    assert ("dental-1-" + sim.tables.patients["patient_id"].astype(str)).tolist() == \
        dental["patient_id"].tolist()


def test_the_stored_members_are_played_with_export_ids_and_the_holdout_is_never_sent(
    demo_dir: Path,
) -> None:
    patients = pd.read_csv(demo_dir / "patients.csv", dtype=str)
    ids = patients.loc[patients["clinic_id"] == "dental-1", "patient_id"].iloc[:200]
    members = pd.DataFrame({
        "campaign_id": "w", "patient_id": ids.to_numpy(), "arm": ["treatment", "holdout"] * 100,
        "channel": "sms", "assigned_at": pd.Timestamp("2025-07-02 09:00")})
    events = play_group_campaign(demo_dir, "dental-1", members, seed=3)
    assert events["patient_id"].isin(set(ids)).all()
    held = set(members.loc[members["arm"] == "holdout", "patient_id"])
    assert not events.loc[events["type"] == "sent", "patient_id"].isin(held).any()
    assert (events["type"] == "sent").sum() > 0
    again = play_group_campaign(demo_dir, "dental-1", members, seed=3)
    pd.testing.assert_frame_equal(events, again)
    with pytest.raises(ValueError, match="not all of clinic"):
        play_group_campaign(demo_dir, "aesthetics-1", members, seed=3)
