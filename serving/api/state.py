"""What the service serves: the champion bundle and the latest scored snapshot, kept fresh.

At start and then every ``serving.reload_seconds`` the service looks at the registry's
``champion`` alias and at the newest ``scored_<date>.parquet``. When either changed, the new
pair is loaded and checked *before* it replaces the current one: an unreadable bundle, a
truncated or incomplete snapshot, one without the stamps ``as_of`` and ``model_version``
(``training.snapshot_schema``), one scored by another model version than the champion, or
one the contact policy cannot run on is refused, the service keeps serving the last good
pair, and ``/model`` reports the refusal. A refused
candidate is not retried until it changes.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from features.config import Settings
from serving.targeting.explanations import ExplanationStore, explanation_basis, warm_order
from serving.targeting.index import SnapshotIndex, build_index
from training.registry import NoChampion, champion_version, load_champion
from training.scored_snapshot import latest_snapshot, read_snapshot, snapshot_for
from training.snapshot_schema import missing_stamps

logger = logging.getLogger(__name__)

SnapshotKey = tuple[str, float, int]


@dataclass
class Served:
    """One consistent model + snapshot pair and its derived structures.

    ``explanations`` explains the bundle's default ordering (warmed in the background); a
    request ranked by another ordering whose reasons explain another score gets its own
    store, made on first use (:meth:`explanations_for`).
    """

    bundle: object
    version: str
    index: SnapshotIndex
    explanations: ExplanationStore
    snapshot_path: Path
    snapshot_key: SnapshotKey
    as_of: dt.date
    loaded_at: dt.datetime
    others: dict[str, ExplanationStore] = field(default_factory=dict, repr=False)

    def explanations_for(self, ordering: str | None) -> ExplanationStore:
        """The store whose reasons explain ``ordering`` (``explanation_basis``; None: the
        default ordering's, ``explanations``)."""
        if ordering is None:
            return self.explanations
        basis = explanation_basis(self.bundle, self.index, ordering)
        if basis == self.explanations.basis:
            return self.explanations
        if basis not in self.others:  # a race makes two stores, one is kept: harmless
            self.others[basis] = ExplanationStore(self.bundle, self.index.frame, basis,
                                                  self.explanations.min_effect)
        return self.others[basis]

    def stop_explaining(self) -> None:
        """Stop every store's background work (a replaced pair needs no more reasons)."""
        self.explanations.stop()
        for store in list(self.others.values()):
            store.stop()


@dataclass
class ReloadStatus:
    """The reload loop's last outcome (reported by ``/model``)."""

    last_check: dt.datetime | None = None
    last_error: str | None = None
    last_error_at: dt.datetime | None = None
    refused: tuple | None = field(default=None, repr=False)


def snapshot_key(path: Path) -> SnapshotKey:
    """Identity of a snapshot file: name, modification time and size."""
    stat = path.stat()
    return (path.name, stat.st_mtime, stat.st_size)


def snapshot_as_of(frame: pd.DataFrame) -> dt.date:
    """The snapshot's as-of date, from its ``as_of`` stamp (checked by :func:`check_stamps`)."""
    return pd.Timestamp(frame["as_of"].iloc[0]).date()


def check_snapshot(frame: pd.DataFrame, features: list[str]) -> None:
    """Refuse a snapshot the served model cannot explain or whose scores are not probabilities.

    Raises:
        ValueError: naming the problem.
    """
    missing = [f for f in features if f not in frame.columns]
    if missing:
        raise ValueError(f"snapshot lacks model features {missing[:5]} (of {len(missing)})")
    p = pd.to_numeric(frame["return_probability"], errors="coerce").to_numpy(dtype=float)
    if len(p) == 0:
        raise ValueError("snapshot is empty")
    if np.isnan(p).any() or (p < 0).any() or (p > 1).any():
        raise ValueError("snapshot return_probability is missing or outside [0, 1]")


def read_for_serving(path: Path) -> pd.DataFrame:
    """Read a snapshot with its text columns (but ``patient_id``) as categories.

    Labels such as clinic, segment, service, location and provider repeat across a million
    rows; reading them dictionary-encoded halves the frame's memory and never materialises
    a million Python strings per column. CSV snapshots are read as they are.
    """
    if path.suffix.lower() != ".parquet":
        return read_snapshot(path)
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    text = [f.name for f in schema if pa.types.is_string(f.type) and f.name != "patient_id"]
    return pq.read_table(path, read_dictionary=text).to_pandas()


def check_stamps(frame: pd.DataFrame, version: str, name: str) -> None:
    """Refuse a snapshot that does not say when and by which model it was scored, or that
    was scored by another model version than ``version`` (the champion it would be served
    with).

    Raises:
        ValueError: naming the missing stamp or both versions.
    """
    missing = missing_stamps(frame)
    if missing:
        raise ValueError(
            f"snapshot {name} lacks {' and '.join(missing)}: it was not written by "
            "training.scored_snapshot.write_scored_snapshot; run `reactivate score`"
        )
    versions = sorted({str(v) for v in frame["model_version"].unique()})
    if len(versions) != 1 or versions[0] != str(version):
        # Serving v2's explanations next to v1's probabilities would be wrong on both counts.
        scored_by = ", v".join(versions)
        raise ValueError(
            f"snapshot {name} was scored by model v{scored_by} but the champion is "
            f"v{version}: run `reactivate score` with the new champion"
        )


def load_pair(bundle: object, version: str, path: Path, settings: Settings) -> Served:
    """Read, check and index a snapshot for ``bundle``; start warming its explanations."""
    key = snapshot_key(path)
    frame = read_for_serving(path)
    check_snapshot(frame, list(bundle.features))
    check_stamps(frame, version, path.name)
    index = build_index(frame, settings)
    return _served(bundle, version, index, path, key, snapshot_as_of(frame), settings)


def _served(
    bundle: object,
    version: str,
    index: SnapshotIndex,
    path: Path,
    key: SnapshotKey,
    as_of: dt.date,
    settings: Settings,
) -> Served:
    """A served pair whose explanation warm-up has started."""
    default = bundle.uplift_summary()["ordering"]
    store = ExplanationStore(bundle, index.frame, explanation_basis(bundle, index, default),
                             settings.serving.reason_min_effect)
    budget = settings.serving.precompute_explanations
    clinics = max(len(index.clinics), 1)
    store.start_warming(warm_order(index, per_clinic=budget // clinics + 1), budget)
    now = dt.datetime.now(dt.UTC)
    return Served(bundle, version, index, store, path, key, as_of, now)


class ServingState:
    """Holds the current :class:`Served` pair and refreshes it.

    Args:
        settings: the service's settings (``models_dir``, ``serving``, ``policy``).
        champion: returns ``(bundle, version)``; defaults to the registry's champion.
        version_of_champion: cheap lookup of the champion version (None: no champion).
        on_swap: called (on the refreshing thread) after a new pair replaced the served one;
            the service passes :func:`serving.api.heap.settle` there.
    """

    def __init__(
        self,
        settings: Settings,
        champion: Callable[[Settings], tuple[object, str]] = load_champion,
        version_of_champion: Callable[[Settings], str | None] = champion_version,
        on_swap: Callable[[], object] | None = None,
    ) -> None:
        self.settings = settings
        self._champion = champion
        self._version_of_champion = version_of_champion
        self._on_swap = on_swap
        self.current: Served | None = None
        self.status = ReloadStatus()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def refresh(self) -> bool:
        """Look for a new champion or snapshot once; True when a new pair is now served.

        Never raises: a failure is recorded in :attr:`status` and the current pair stays.
        """
        with self._lock:
            self.status.last_check = dt.datetime.now(dt.UTC)
            candidate: tuple | None = None
            try:
                version = self._version_of_champion(self.settings)
                if version is None:
                    raise NoChampion("no champion model in the registry yet")
                path = snapshot_for(self.settings.models_dir, version)
                if path is None:
                    raise FileNotFoundError("no scored snapshot yet: run `reactivate score`")
                candidate = (version, snapshot_key(path))
                current = self.current
                if current is not None and (current.version, current.snapshot_key) == candidate:
                    return False
                if candidate == self.status.refused:
                    return False
                served = self._load(version, path, current)
            except Exception as exc:  # noqa: BLE001 - any broken artifact is refused
                self._refuse(candidate, exc)
                return False
            old, self.current = self.current, served
            self.status.refused = None
            if old is not None:
                old.stop_explaining()
            logger.info("serving model version %s with snapshot %s", served.version, path.name)
            newest = latest_snapshot(self.settings.models_dir)
            if newest is not None and newest != path:
                logger.warning("newer snapshot %s was scored by another model version than "
                               "champion v%s and is not served", newest.name, served.version)
            if self._on_swap is not None:
                self._on_swap()
            return True

    def _load(self, version: str, path: Path, current: Served | None) -> Served:
        if current is not None and current.version == version:
            bundle = current.bundle
        else:
            bundle, version = self._champion(self.settings)
        if current is not None and current.snapshot_key == snapshot_key(path):
            check_snapshot(current.index.frame, list(bundle.features))
            check_stamps(current.index.frame, version, path.name)
            return _served(
                bundle,
                version,
                current.index,
                path,
                current.snapshot_key,
                current.as_of,
                self.settings,
            )
        return load_pair(bundle, version, path, self.settings)

    def _refuse(self, candidate: tuple | None, exc: Exception) -> None:
        self.status.last_error = f"{type(exc).__name__}: {exc}"
        self.status.last_error_at = dt.datetime.now(dt.UTC)
        self.status.refused = candidate
        verb = "keeping the last good model and snapshot" if self.current else "nothing to serve"
        logger.warning("refused new artifacts (%s); %s", self.status.last_error, verb)

    def start(self) -> None:
        """Load once now, then re-check every ``serving.reload_seconds`` in a daemon thread."""
        self.refresh()
        interval = self.settings.serving.reload_seconds
        if interval > 0 and self._thread is None:
            self._thread = threading.Thread(
                target=self._loop, args=(interval,), daemon=True, name="artifact-reload"
            )
            self._thread.start()

    def _loop(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self.refresh()

    def stop(self) -> None:
        """Stop reloading and warming (service shutdown)."""
        self._stop.set()
        if self.current is not None:
            self.current.stop_explaining()
