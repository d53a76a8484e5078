"""Shared fixtures of the training tests: hand-made exports, one small simulated clinic, one
trained run (shared: training is the slow part) and a template MLflow store (a fresh SQLite
store costs ~10 s of migrations, a copy 0.1 s)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from features.config import Settings
from features.export.tables import Tables, conform, empty_frame

SMALL_CLINIC = {"n_patients": 1500, "seed": 11}


def small_settings(models_dir: Path | None = None, **training: object) -> Settings:
    """Settings with lean models so each training run takes seconds."""
    cfg = {"max_rounds": 60, "channel_max_rounds": 40, "max_snapshots": 8,
           "early_stopping_rounds": 15, "min_child_samples": 30, **training}
    extra = {"models_dir": models_dir} if models_dir is not None else {}
    return Settings(training=cfg, **extra)


def make_tables(
    visits: list[tuple], patients: list[tuple] | None = None,
    contacts: list[tuple] | None = None, export_date: str = "2024-12-31",
) -> Tables:
    """A Tables from short tuples.

    visits: (patient_id, visit_at, status[, booked_at]); patients: (patient_id, deceased);
    contacts: (patient_id, channel, sent_at).
    """
    v = pd.DataFrame([(*r, None)[:4] for r in visits],
                     columns=["patient_id", "visit_at", "status", "booked_at"])
    v["visit_at"] = pd.to_datetime(v["visit_at"], format="ISO8601")
    v["booked_at"] = pd.to_datetime(v["booked_at"], format="ISO8601")
    v["visit_id"] = [f"v{i}" for i in range(len(v))]
    ids = sorted(set(v["patient_id"]) | {p[0] for p in (patients or [])})
    p = pd.DataFrame({"patient_id": ids, "clinic_id": "c1"})
    if patients:
        dead = dict(patients)
        p["deceased"] = pd.array([dead.get(i, False) for i in ids], dtype="boolean")
    c = None
    if contacts is not None:
        c = pd.DataFrame(contacts, columns=["patient_id", "channel", "sent_at"]) if contacts \
            else empty_frame("contacts")
        c["sent_at"] = pd.to_datetime(c["sent_at"], format="ISO8601")
        c["contact_id"] = [f"c{i}" for i in range(len(c))]
        c = conform(c, "contacts")
    return Tables(visits=conform(v, "visits"), patients=conform(p, "patients"), contacts=c,
                  export_date=pd.Timestamp(export_date))


@pytest.fixture(scope="session")
def small_sim():
    """A small simulated clinic (the demo simulator, 1,500 patients)."""
    from features.simulator import simulate

    return simulate(**SMALL_CLINIC)


@pytest.fixture(scope="session")
def as_of(small_sim) -> pd.Timestamp:
    """Training as-of date: the export day."""
    return pd.Timestamp(small_sim.tables.export_date).normalize()


@pytest.fixture(scope="session")
def trained(small_sim, as_of):
    """One training run on the small clinic, shared by the model tests."""
    from features.simulator import truth_at
    from features.simulator.truth_files import Truth
    from training.fit import train
    from training.training_snapshots import split_as_ofs

    settings = small_settings()
    val = split_as_ofs(small_sim.tables, as_of, settings).validation[0]
    truth = Truth(*truth_at(small_sim, val, settings.horizon_days))
    return train(small_sim.tables, as_of, settings, truth=truth)


@pytest.fixture(scope="session")
def mlflow_template(tmp_path_factory) -> Path:
    """An MLflow SQLite store with its schema migrated (each test adds its own experiment)."""
    from training.tracking import client

    folder = tmp_path_factory.mktemp("mlflow-template")
    client(folder).search_experiments()
    return folder / "mlflow.db"


@pytest.fixture
def models_dir(tmp_path, mlflow_template) -> Path:
    """A fresh models dir holding a copy of the template store."""
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copy(mlflow_template, folder / "mlflow.db")
    return folder
