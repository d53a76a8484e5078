"""Where drift files live and how a snapshot is checked against a model bundle.

Files sit beside their snapshot: ``snapshots/scored_<as_of>.parquet`` gets
``drift_<as_of>.json`` (and ``drift_<as_of>.html`` when asked or flagged;
``features.store_paths.drift_paths``).

The reference a snapshot is compared with (the bundle's sample plus the best channel its
channel model gives each row) is computed once per bundle and cached as Parquet under
``<models_dir>/drift_reference/``, keyed by the bundle's creation time and sample size.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from features.config import Settings
from features.store_paths import drift_paths
from serving.monitoring.drift.run import CHANNEL_COLUMN, run_drift

if TYPE_CHECKING:
    from training.bundle import ModelBundle

def bundle_reference(bundle: ModelBundle, settings: Settings) -> pd.DataFrame:
    """The bundle's reference sample with the best channel a scored snapshot would carry.

    The sample holds validation-window features and scores. Its best channel comes from
    ``training.scoring.score_features`` itself, so it follows the one channel choice scoring
    makes (by incremental value when the bundle has an uplift model, else by booking chance):
    a reference chosen by another rule flagged a channel-mix shift on every night (measured at
    1,000,000 patients: phone 82 % in the reference by booking chance against 45 % in the
    snapshot by incremental value, a 34 % shift, on the data the model was trained on).
    Rows the scoring skips (no completed visit) get ``none``, as in a snapshot.
    """
    from training.scoring import score_features

    ref = bundle.reference
    if CHANNEL_COLUMN in ref.columns or bundle.channel_model is None:
        return ref
    scored = score_features(ref, bundle, settings)
    best = pd.Series(scored["best_channel"].to_numpy(), index=scored["patient_id"].to_numpy())
    return ref.assign(best_channel=best.reindex(ref.index).fillna("none").to_numpy())


def cached_reference(
    key: str, build: Callable[[], pd.DataFrame], folder: Path | str
) -> pd.DataFrame:
    """The frame cached as ``{folder}/{key}.parquet``, built (and written) on first use."""
    path = Path(folder) / f"{key}.parquet"
    if path.exists():
        return pd.read_parquet(path)
    frame = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    frame.to_parquet(tmp)
    tmp.replace(path)
    return frame


REFERENCE_RULE = "scoring-channel-choice"  # a new rule gets a new cache file


def reference_key(bundle: ModelBundle) -> str:
    """A name for the bundle's reference profile (creation time, sample size and the rule
    that gave its best channels, so a profile cached under an older rule is rebuilt)."""
    text = (f"{bundle.created_at}|{len(bundle.reference)}|{bundle.channel_model is not None}"
            f"|{REFERENCE_RULE}")
    return "reference_" + hashlib.sha1(text.encode()).hexdigest()[:16]


def drift_against_bundle(
    current: pd.DataFrame,
    bundle: ModelBundle,
    settings: Settings,
    out_dir: Path | str,
    *,
    stem: str = "drift",
    html: bool = False,
) -> dict[str, Any]:
    """Drift of a scored snapshot against the data the model was validated on.

    The snapshot is first cut to the population training rows describe
    (``training.training_snapshots.population``: no deceased patients, no booked ones unless training
    keeps them), so a difference in who is counted is not mistaken for drift.
    """
    from training.training_snapshots import population

    cur = current.loc[population(current, settings)]
    ref = cached_reference(
        reference_key(bundle),
        lambda: bundle_reference(bundle, settings),
        Path(settings.models_dir) / "drift_reference",
    )
    return run_drift(cur, ref, settings, out_dir, stem=stem, html=html)


def drift_after_scoring(
    snapshot_path: Path | str,
    bundle: ModelBundle,
    settings: Settings,
    snapshot: pd.DataFrame | None = None,
    html: bool = False,
) -> dict[str, Any]:
    """Check a freshly written snapshot against the bundle; files go beside the snapshot.

    Called at the end of ``reactivate score``; ``snapshot`` avoids re-reading the file.
    """
    from training.scored_snapshot import read_snapshot

    frame = snapshot if snapshot is not None else read_snapshot(snapshot_path)
    json_path = summary_paths(snapshot_path)[1]
    return drift_against_bundle(
        frame, bundle, settings, json_path.parent, stem=json_path.stem, html=html
    )


def summary_paths(snapshot_path: Path | str) -> tuple[Path, Path]:
    """Where the drift files of a snapshot live: ``drift_{as_of}.html/.json`` beside it."""
    return drift_paths(snapshot_path)


def latest_summary(settings: Settings) -> dict[str, Any] | None:
    """The drift summary stored beside the champion's newest scored snapshot (the one the
    service serves), or None if there is none.

    Used by the service's ``GET /drift``; cheap (no Evidently import).
    """
    from training.registry import champion_version
    from training.scored_snapshot import snapshot_for

    snapshot = snapshot_for(settings.models_dir, champion_version(settings))
    if snapshot is None:
        return None
    json_path = summary_paths(snapshot)[1]
    if not json_path.exists():
        return None
    return json.loads(json_path.read_text())
