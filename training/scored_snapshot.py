"""Scored snapshots on disk: written atomically, found by the service.

Why atomic: the service reloads the newest snapshot while the nightly job may be writing
one; a half-written file must never be visible. Each file is written to a temporary name in
the same folder and moved into place (``features.atomic_files``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from features.atomic_files import write_atomically
from features.vocabulary import as_timestamp

PREFIX = "scored_"


def snapshots_dir(models_dir: str | Path) -> Path:
    """The folder of scored snapshots, ``<models dir>/snapshots``."""
    return Path(models_dir) / "snapshots"


def snapshot_path(models_dir: str | Path, as_of: str | pd.Timestamp) -> Path:
    """Default path of the snapshot of ``as_of``: ``scored_<YYYY-MM-DD>.parquet``."""
    return snapshots_dir(models_dir) / f"{PREFIX}{as_timestamp(as_of).date()}.parquet"


def write_snapshot(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` atomically as Parquet, or CSV when ``path`` ends in ``.csv``."""
    target = Path(path)
    if target.suffix.lower() == ".csv":
        return write_atomically(target, lambda tmp: frame.to_csv(tmp, index=False))
    return write_atomically(target, lambda tmp: frame.to_parquet(tmp, index=False))


def latest_snapshot(models_dir: str | Path) -> Path | None:
    """The snapshot with the latest as-of date in the models dir, or None if there is none."""
    folder = snapshots_dir(models_dir)
    if not folder.is_dir():
        return None
    found = sorted(folder.glob(f"{PREFIX}????-??-??.parquet"))
    return found[-1] if found else None


def read_snapshot(path: str | Path) -> pd.DataFrame:
    """Read a scored snapshot (Parquet or CSV)."""
    p = Path(path)
    return pd.read_csv(p) if p.suffix.lower() == ".csv" else pd.read_parquet(p)
