"""`reactivate outcomes import` checks patients against the snapshot the service serves."""

from __future__ import annotations

import pandas as pd
import pytest
import typer

from features.config import Settings
from serving.cli import outcome_commands
from training import registry
from training.scored_snapshot import snapshot_path, write_snapshot


def _snapshot(patients: list[str], version: str) -> pd.DataFrame:
    return pd.DataFrame({"patient_id": patients, "clinic_id": "c1", "model_version": version})


def test_an_older_models_later_snapshot_does_not_decide_the_imports_patients(
    tmp_path, monkeypatch
) -> None:
    """A re-run demo: v1 scored a later export than v2, the champion, did."""
    write_snapshot(_snapshot(["p1", "p2"], "2"), snapshot_path(tmp_path, "2026-02-10"))
    write_snapshot(_snapshot(["old"], "1"), snapshot_path(tmp_path, "2026-03-01"))
    settings = Settings(models_dir=tmp_path)
    monkeypatch.setattr(registry, "champion_version", lambda s: "2")
    assert list(outcome_commands.clinic_patients(settings, "c1")) == ["p1", "p2"]
    monkeypatch.setattr(registry, "champion_version", lambda s: None)  # no champion: newest
    assert list(outcome_commands.clinic_patients(settings, "c1")) == ["old"]
    with pytest.raises(typer.Exit):
        outcome_commands.clinic_patients(settings, "elsewhere")
