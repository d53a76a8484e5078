"""Scored snapshots on disk: written atomically, found by the service.

:func:`write_scored_snapshot` is how a scored snapshot is written (the ``score`` command and
the notebook both call it): it takes a frame finished by
``training.snapshot_schema.finish_snapshot`` and refuses one without the stamps.
:func:`write_snapshot` is the bare atomic writer underneath.

Why atomic: the service reloads the newest snapshot while the nightly job may be writing
one; a half-written file must never be visible. Each file is written to a temporary name in
the same folder and moved into place (``features.atomic_files``).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pandas as pd

from features.atomic_files import write_atomically
from features.store_paths import SCORED_GLOB, scored_snapshot_path, snapshots_dir
from training.snapshot_schema import (
    missing_stamps,
    snapshot_column_names,
    snapshot_columns,
    window_of,
)

__all__ = ["latest_snapshot", "read_snapshot", "scored_by_version", "snapshot_for",
           "snapshot_path", "snapshots_dir", "write_snapshot"]


def snapshot_path(models_dir: str | Path, as_of: str | pd.Timestamp) -> Path:
    """Default path of the snapshot of ``as_of``: ``scored_<YYYY-MM-DD>.parquet``."""
    return scored_snapshot_path(models_dir, as_of)


def write_snapshot(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` atomically as Parquet, or CSV when ``path`` ends in ``.csv``."""
    target = Path(path)
    if target.suffix.lower() == ".csv":
        return write_atomically(target, lambda tmp: frame.to_csv(tmp, index=False))
    return write_atomically(target, lambda tmp: frame.to_parquet(tmp, index=False))


def write_scored_snapshot(snapshot: pd.DataFrame, path: str | Path) -> Path:
    """Write a finished scored snapshot atomically (Parquet, or CSV for ``.csv``).

    Raises:
        ValueError: when ``snapshot`` was not finished by
            ``training.snapshot_schema.finish_snapshot`` (stamps missing, or columns not in
            the declared order), so no unstamped snapshot reaches the service.
    """
    missing = missing_stamps(snapshot)
    if missing:
        raise ValueError(f"scored snapshot lacks {missing}: finish it with "
                         "training.snapshot_schema.finish_snapshot(frame, as_of, model_version)")
    if tuple(snapshot.columns) != snapshot_column_names(window_days=window_of(snapshot)):
        raise ValueError("scored snapshot columns are not the declared ones in order: finish "
                         "it with training.snapshot_schema.finish_snapshot")
    return write_snapshot(snapshot, path)


def latest_snapshot(models_dir: str | Path, scored_by: str | None = None) -> Path | None:
    """The snapshot with the latest as-of date in the models dir, or None if there is none.

    With ``scored_by`` (a model version), the latest one that is not stamped by another
    version: after a new champion re-scores an export whose as-of date is earlier than one an
    older version scored (a re-generated demo, a re-imported older export), the older model's
    later snapshot is stale for the new champion and must not shadow the one it scored. A
    file without readable stamps is not skipped: the service's checks name what is wrong.
    """
    folder = snapshots_dir(models_dir)
    if not folder.is_dir():
        return None
    found = sorted(folder.glob(SCORED_GLOB), reverse=True)
    if scored_by is None:
        return found[0] if found else None
    return next((p for p in found if scored_by_version(p) in (None, {str(scored_by)})), None)


def snapshot_for(models_dir: str | Path, version: str | None) -> Path | None:
    """The snapshot to serve or report with model ``version``: its own newest one, else the
    newest of any model (which the service's stamp check then refuses by name)."""
    own = latest_snapshot(models_dir, scored_by=version) if version is not None else None
    return own or latest_snapshot(models_dir)


def scored_by_version(path: str | Path) -> frozenset[str] | None:
    """The model versions stamped on a snapshot (its ``model_version`` column only), or None
    when the file has no readable stamp.

    The service asks at every reload check; a file's stamps change only with the file, so the
    answer is remembered per name, modification time and size.
    """
    p = Path(path)
    try:
        stat = p.stat()
    except OSError:
        return None
    return _stamped_versions(str(p), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=64)
def _stamped_versions(path: str, mtime_ns: int, size: int) -> frozenset[str] | None:
    p = Path(path)
    try:
        if p.suffix.lower() == ".csv":
            column = pd.read_csv(p, usecols=["model_version"], dtype=str)["model_version"]
        else:
            column = pd.read_parquet(p, columns=["model_version"])["model_version"]
    except Exception:  # noqa: BLE001 - any unreadable file is for the service's checks to name
        return None
    versions = frozenset(str(v) for v in column.dropna().unique())
    return versions or None


def read_snapshot(path: str | Path) -> pd.DataFrame:
    """Read a scored snapshot: a Parquet or CSV file, or a Parquet dataset folder.

    A dataset partitioned by ``clinic_id`` (what the Spark engine writes) comes back as the
    file does: the declared columns in order and dtype, one row per patient, clinics in
    order of their id.
    """
    p = Path(path)
    if p.is_dir():
        return _from_dataset(pd.read_parquet(p))
    return pd.read_csv(p) if p.suffix.lower() == ".csv" else pd.read_parquet(p)


def _from_dataset(frame: pd.DataFrame) -> pd.DataFrame:
    """Undo the partitioning: the clinic column is text again and in its declared place."""
    frame = frame.assign(clinic_id=frame["clinic_id"].astype(str).to_numpy(dtype=object))
    frame = frame.sort_values(["clinic_id"], kind="stable", ignore_index=True)
    declared = [c for c in snapshot_columns(window_of(frame)) if c.name in frame.columns]
    return pd.DataFrame({c.name: frame[c.name].to_numpy().astype(c.dtype, copy=False)
                         for c in declared}, copy=False)
