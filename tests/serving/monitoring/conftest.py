"""Fixtures of the monitoring tests: one small trained demo clinic, shared by the session.

Training goes through ``training.fit.train`` and scoring through ``training.scoring.score``
(real LightGBM, no MLflow: the registry path is exercised by the notebook test), so the
report and drift tests see exactly what the product produces.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from features.config import Settings
from tests.serving.monitoring.browser import chromium_path

AS_OF = "2026-06-30"
ARTIFACTS = Path(os.environ.get("REACTIVATE_TEST_ARTIFACTS",
                                Path(__file__).resolve().parents[2] / "artifacts"))


@dataclass(frozen=True)
class TrainedClinic:
    """A demo clinic scored by a model trained on it, stored like ``reactivate score`` does."""

    settings: Settings
    bundle: object
    bundle_dir: Path
    snapshot: pd.DataFrame
    snapshot_path: Path
    drift: dict


@pytest.fixture(scope="session")
def trained_clinic(tmp_path_factory: pytest.TempPathFactory) -> TrainedClinic:
    from features.simulator import simulate
    from serving.monitoring.drift import drift_after_scoring
    from training.fit import train
    from training.scored_snapshot import snapshot_path, write_scored_snapshot
    from training.scoring import score
    from training.snapshot_schema import finish_snapshot

    root = tmp_path_factory.mktemp("trained")
    settings = Settings(models_dir=root / "models")
    tables = simulate(1500, seed=3, start="2023-01-01", end=AS_OF).tables
    bundle = train(tables, AS_OF, settings).bundle
    frame = finish_snapshot(score(tables, AS_OF, bundle, settings), AS_OF, "1")
    path = write_scored_snapshot(frame, snapshot_path(settings.models_dir, AS_OF))
    drift = drift_after_scoring(path, bundle, settings, snapshot=frame)
    return TrainedClinic(settings, bundle, bundle.save(root / "bundle"), frame, path, drift)


@pytest.fixture(scope="session")
def chromium() -> str:
    """The Chromium executable; CI installs Debian's package, so there it must exist."""
    path = chromium_path()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: .ci/run must install it")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return path


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Folder for files a person may want to look at after the run (screenshots, PDFs)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
