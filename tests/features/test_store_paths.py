"""Store paths: one naming of everything under the models dir, and its way back."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from features import store_paths as sp


def test_a_scored_snapshot_is_named_by_its_day_and_the_day_reads_back(tmp_path):
    path = sp.scored_snapshot_path(tmp_path, "2024-06-30 17:45")
    assert path == tmp_path / "snapshots" / "scored_2024-06-30.parquet"
    assert path.match(sp.SCORED_GLOB)
    assert sp.snapshot_label(path) == "2024-06-30"
    assert sp.as_of_in_name(path) == dt.date(2024, 6, 30)
    assert sp.as_of_in_name(Path("latest.parquet")) is None


def test_drift_files_sit_beside_their_snapshot_under_its_label(tmp_path):
    html, json_path = sp.drift_paths(tmp_path / "scored_2024-06-30.parquet")
    assert (html.name, json_path.name) == ("drift_2024-06-30.html", "drift_2024-06-30.json")
    assert html.parent == tmp_path
    # A snapshot not named by convention keeps its whole stem.
    assert sp.drift_paths(tmp_path / "mine.csv")[1].name == "drift_mine.json"


def test_the_model_store_is_one_sqlite_file_with_absolute_uri(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert not sp.has_model_store("models")
    (tmp_path / "models").mkdir()
    sp.mlflow_db("models").touch()
    assert sp.has_model_store("models")
    assert sp.tracking_uri("models") == f"sqlite:///{tmp_path.resolve() / 'models' / 'mlflow.db'}"
    assert sp.artifacts_dir("models") == tmp_path.resolve() / "models" / "artifacts"
    assert sp.outcomes_db("models") == Path("models") / "outcomes.db"
