"""Scoring, the snapshot store and a bare visit log end to end."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.export.loading import load
from features.vocabulary import CHANNELS
from training.fit import train
from training.scored_snapshot import (
    latest_snapshot,
    read_snapshot,
    snapshot_for,
    snapshot_path,
    write_snapshot,
)
from training.scoring import score
from training.snapshot_schema import SCORE_COLUMNS, STAMPS

from .conftest import small_settings


def test_scored_snapshot_has_the_interface_columns(small_sim, as_of, trained):
    scored = score(small_sim.tables, as_of, trained.bundle, small_settings())
    unstamped = [c for c in SCORE_COLUMNS if c not in STAMPS]
    assert list(scored.columns[: len(unstamped)]) == unstamped
    policy = ["do_not_contact", "deceased", "has_booked_appointment", "days_since_last_contact",
              "contacts_180d", "location_id", "last_provider_id",
              *(f"consent_{c}" for c in CHANNELS), *(f"opted_out_{c}" for c in CHANNELS)]
    assert set(policy) <= set(scored.columns)
    assert set(trained.bundle.features) <= set(scored.columns)
    assert scored["patient_id"].is_unique
    assert scored["return_probability"].between(0, 1).all()
    expected = scored["return_probability"] * scored["expected_revenue_per_visit"]
    np.testing.assert_allclose(scored["expected_value"], expected)


def test_the_best_channel_is_always_one_the_patient_may_be_contacted_on(small_sim, as_of,
                                                                         trained):
    scored = score(small_sim.tables, as_of, trained.bundle, small_settings())
    for ch in CHANNELS:
        chosen = scored.loc[scored["best_channel"] == ch]
        assert chosen[f"consent_{ch}"].all()
        assert not chosen[f"opted_out_{ch}"].astype(bool).any()
        assert not (chosen["do_not_contact"] | chosen["deceased"]).any()
    nothing_allowed = ~np.column_stack([
        scored[f"consent_{c}"].astype(bool) & ~scored[f"opted_out_{c}"].astype(bool)
        for c in CHANNELS]).any(axis=1) | scored["do_not_contact"] | scored["deceased"]
    assert nothing_allowed.any()
    assert (scored.loc[nothing_allowed, "best_channel"] == "none").all()
    assert scored.loc[~nothing_allowed, "best_channel"].isin(CHANNELS).all()


def test_snapshots_are_written_atomically_and_the_latest_is_found(tmp_path):
    frame = pd.DataFrame({"patient_id": ["a", "b"], "return_probability": [0.1, 0.2]})
    assert latest_snapshot(tmp_path) is None
    for day in ("2026-01-31", "2026-03-01", "2026-02-15"):
        write_snapshot(frame, snapshot_path(tmp_path, day))
    found = latest_snapshot(tmp_path)
    assert found is not None and found.name == "scored_2026-03-01.parquet"
    assert [p.name for p in found.parent.iterdir() if p.name.startswith(".")] == []
    pd.testing.assert_frame_equal(read_snapshot(found), frame)
    csv = write_snapshot(frame, tmp_path / "out" / "scored.csv")
    pd.testing.assert_frame_equal(read_snapshot(csv), frame)


def test_the_latest_snapshot_of_a_model_version_is_found_by_its_stamp(tmp_path):
    def stamped(version: str) -> pd.DataFrame:
        return pd.DataFrame({"patient_id": ["a"], "model_version": [version]})

    write_snapshot(stamped("2"), snapshot_path(tmp_path, "2026-01-31"))
    write_snapshot(stamped("2"), snapshot_path(tmp_path, "2026-02-10"))
    write_snapshot(stamped("1"), snapshot_path(tmp_path, "2026-03-01"))
    assert latest_snapshot(tmp_path).name == "scored_2026-03-01.parquet"
    assert latest_snapshot(tmp_path, scored_by="2").name == "scored_2026-02-10.parquet"
    assert latest_snapshot(tmp_path, scored_by="3") is None
    assert snapshot_for(tmp_path, "2").name == "scored_2026-02-10.parquet"
    assert snapshot_for(tmp_path, "3").name == "scored_2026-03-01.parquet"
    assert snapshot_for(tmp_path, None).name == "scored_2026-03-01.parquet"


def test_a_bare_visit_log_trains_and_scores(small_sim, as_of, tmp_path):
    visits = small_sim.tables.visits
    done = visits.loc[visits["status"] == "completed", ["patient_id", "visit_at", "revenue"]]
    folder = tmp_path / "bare"
    folder.mkdir()
    done.to_csv(folder / "visits.csv", index=False)
    settings = small_settings()
    tables = load(str(folder), settings).tables
    assert tables.contacts is None and not tables.has_patients_table
    result = train(tables, as_of, settings)
    assert result.bundle.channel_model is None
    assert result.evaluation["channels"] is None
    scored = score(tables, as_of, result.bundle, settings)
    assert (scored["best_channel"] == "unknown").all()
    assert scored[[f"p_{c}" for c in CHANNELS]].isna().all().all()
    assert scored["return_probability"].between(0, 1).all()
    assert result.evaluation["return"]["model"]["auc"] > 0.75
