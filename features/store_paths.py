"""Where everything under the models dir lives, named once.

Why here (the bottom layer): training writes the model store and the scored snapshots, the
service and monitoring read them, and each used to spell ``"mlflow.db"`` or ``"scored_"`` on
its own (the service even re-derived the registry's store path). Every path below is a pure
function of the models dir (or of a snapshot's path); nothing is created here.

Layout of ``<models dir>``::

    mlflow.db                        MLflow tracking + registry (SQLite)
    artifacts/                       MLflow run artifacts (bundles, reports)
    snapshots/scored_<date>.parquet  scored snapshots, one per as-of date
    snapshots/drift_<date>.html|json the drift check of that snapshot, beside it
    outcomes.db                      campaign outcomes (SQLite)
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pandas as pd

from features.vocabulary import as_timestamp

MLFLOW_DB = "mlflow.db"
ARTIFACTS_DIR = "artifacts"
SNAPSHOTS_DIR = "snapshots"
SCORED_PREFIX = "scored_"
DRIFT_PREFIX = "drift_"
OUTCOMES_DB = "outcomes.db"
# A scored snapshot named by convention: ``scored_YYYY-MM-DD.parquet``.
SCORED_GLOB = f"{SCORED_PREFIX}????-??-??.parquet"
_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})")


def mlflow_db(models_dir: str | Path) -> Path:
    """The MLflow SQLite file (tracking and registry), ``<models dir>/mlflow.db``."""
    return Path(models_dir) / MLFLOW_DB


def has_model_store(models_dir: str | Path) -> bool:
    """Whether a model store exists (checked before opening one, which would create it)."""
    return mlflow_db(models_dir).exists()


def tracking_uri(models_dir: str | Path) -> str:
    """``sqlite:///<absolute models dir>/mlflow.db`` (the registry lives in the same file)."""
    return f"sqlite:///{mlflow_db(models_dir).resolve()}"


def artifacts_dir(models_dir: str | Path) -> Path:
    """The folder of MLflow run artifacts, ``<models dir>/artifacts`` (absolute)."""
    return Path(models_dir).resolve() / ARTIFACTS_DIR


def snapshots_dir(models_dir: str | Path) -> Path:
    """The folder of scored snapshots, ``<models dir>/snapshots``."""
    return Path(models_dir) / SNAPSHOTS_DIR


def scored_snapshot_name(as_of: str | pd.Timestamp) -> str:
    """File name of the scored snapshot of ``as_of``: ``scored_<YYYY-MM-DD>.parquet``."""
    return f"{SCORED_PREFIX}{as_timestamp(as_of).date()}.parquet"


def scored_snapshot_path(models_dir: str | Path, as_of: str | pd.Timestamp) -> Path:
    """Default path of the scored snapshot of ``as_of`` under the models dir."""
    return snapshots_dir(models_dir) / scored_snapshot_name(as_of)


def snapshot_label(snapshot_path: str | Path) -> str:
    """The as-of part of a scored snapshot's file name (``scored_2024-06-30.csv`` ->
    ``2024-06-30``); a file not named by convention gives its whole stem."""
    return Path(snapshot_path).stem.removeprefix(SCORED_PREFIX)


def as_of_in_name(snapshot_path: str | Path) -> dt.date | None:
    """The first ``YYYY-MM-DD`` date in a snapshot's file name, or None when it has none."""
    found = _DATE.search(Path(snapshot_path).name)
    return dt.date.fromisoformat(found.group(1)) if found else None


def drift_paths(snapshot_path: str | Path) -> tuple[Path, Path]:
    """The drift files of a snapshot, beside it: ``drift_<label>.html`` and ``.json``."""
    snap = Path(snapshot_path)
    stem = f"{DRIFT_PREFIX}{snapshot_label(snap)}"
    return snap.with_name(f"{stem}.html"), snap.with_name(f"{stem}.json")


def outcomes_db(models_dir: str | Path) -> Path:
    """The campaign-outcome store (SQLite), ``<models dir>/outcomes.db``."""
    return Path(models_dir) / OUTCOMES_DB
