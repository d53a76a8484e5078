"""Has the data moved away from what the model learned? Evidently drift of a scored snapshot.

A scored snapshot (``training.scoring.score``) is compared with a reference: the sample of
training features kept in the model bundle, or another scored snapshot. Three questions,
each with a threshold in ``settings.drift``:

* **Features**: Evidently's per-column drift test on every model input; the run is flagged
  when the share of drifted columns reaches ``drifted_share_threshold``.
* **Scores**: the population stability index (PSI) of ``return_probability``; flagged from
  ``score_drift_threshold`` (0.1 is the usual "moderate shift" rule of thumb).
* **Channel mix**: total variation distance between the shares of each best channel;
  flagged from ``channel_shift_threshold``.

The output is an Evidently HTML report and a small JSON summary (the service's ``GET /drift``
returns it). Evidently is imported lazily: reading a summary must not cost its ~8 s import.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.config import CHANNELS, Settings

SCORE_COLUMN = "return_probability"
CHANNEL_COLUMN = "best_channel"
SUMMARY_PREFIX = "drift_"


def run_drift(
    current: pd.DataFrame,
    reference: pd.DataFrame,
    settings: Settings,
    out_dir: Path | str,
    *,
    stem: str = "drift",
) -> dict[str, Any]:
    """Compare ``current`` with ``reference``, write ``{stem}.html`` and ``{stem}.json``.

    Args:
        current: a scored snapshot (model feature columns, ``return_probability``,
            ``best_channel``); never modified.
        reference: the bundle's reference sample or another scored snapshot. Score and
            channel checks are skipped (reported as ``None``) when it lacks those columns.
        settings: thresholds and sample sizes come from ``settings.drift``; ``seed`` fixes
            the sample of large snapshots.
        out_dir: folder for the two files (created if missing).
        stem: file name without suffix.

    Returns:
        The summary written to JSON: ``flagged``, ``reasons`` (plain sentences), ``columns``
        (per column: ``column``, ``meaning``, ``kind``, ``test``, ``statistic``, ``p_value``,
        ``threshold``, ``drifted``), ``drifted_share``, ``drifted_columns``, ``score``,
        ``channel_mix``, row counts, thresholds and the two file paths.
    """
    cfg = settings.drift
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cur = _bounded(current, cfg.current_rows, settings.seed)
    ref = _bounded(reference, max(cfg.reference_rows, 1), settings.seed)
    plan = plan_columns(cur, ref)
    score_on = SCORE_COLUMN in cur.columns and SCORE_COLUMN in ref.columns

    snapshot = _evidently_run(cur, ref, plan, score_on, settings)
    html_path, json_path = out / f"{stem}.html", out / f"{stem}.json"
    _atomic_write(html_path, lambda p: snapshot.save_html(str(p)))
    results = _parse_results(snapshot.dict())

    columns = [_column_entry(name, plan, results) for name in plan.tested]
    columns += [_missing_entry(name, plan, cur, ref) for name in plan.one_sided]
    drifted = [c["column"] for c in columns if c["drifted"]]
    share = len(drifted) / len(columns) if columns else 0.0

    score = (
        _score_entry(results.get(SCORE_COLUMN), cur, ref, cfg.score_drift_threshold)
        if score_on
        else None
    )
    channel = channel_mix(cur, ref, cfg.channel_shift_threshold)
    reasons = _reasons(share, drifted, plan, score, channel, settings)
    summary: dict[str, Any] = {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "flagged": bool(reasons),
        "reasons": reasons,
        "current_rows": int(len(current)),
        "reference_rows": int(len(reference)),
        "tested_current_rows": int(len(cur)),
        "tested_reference_rows": int(len(ref)),
        "thresholds": {
            "drifted_share": cfg.drifted_share_threshold,
            "score_psi": cfg.score_drift_threshold,
            "channel_total_variation": cfg.channel_shift_threshold,
        },
        "n_columns": len(columns),
        "n_drifted": len(drifted),
        "drifted_share": share,
        "drifted_columns": drifted,
        "columns": columns,
        "score": score,
        "channel_mix": channel,
        "html_path": str(html_path),
        "json_path": str(json_path),
    }
    _atomic_write(json_path, lambda p: p.write_text(json.dumps(summary, indent=2)))
    return summary


def channel_mix(
    current: pd.DataFrame, reference: pd.DataFrame, threshold: float
) -> dict[str, Any] | None:
    """Shares of each best channel in both frames and their total variation distance.

    Returns:
        ``None`` when either frame lacks ``best_channel``; else ``reference`` and ``current``
        (share per channel, missing counted as ``none``), ``total_variation`` (half the sum
        of absolute share differences, 0 = same mix, 1 = disjoint), ``threshold``, ``shifted``.
    """
    if CHANNEL_COLUMN not in current.columns or CHANNEL_COLUMN not in reference.columns:
        return None
    labels = [*CHANNELS, "none"]
    shares = [
        frame[CHANNEL_COLUMN]
        .astype(object)
        .where(frame[CHANNEL_COLUMN].notna(), "none")
        .value_counts(normalize=True)
        .reindex(labels, fill_value=0.0)
        for frame in (reference, current)
    ]
    tvd = float(0.5 * np.abs(shares[0] - shares[1]).sum())
    return {
        "reference": {k: float(v) for k, v in shares[0].items()},
        "current": {k: float(v) for k, v in shares[1].items()},
        "total_variation": tvd,
        "threshold": threshold,
        "shifted": tvd >= threshold,
    }


def summary_paths(snapshot_path: Path | str) -> tuple[Path, Path]:
    """Where the drift files of a snapshot live: ``drift_{as_of}.html/.json`` beside it."""
    snap = Path(snapshot_path)
    as_of = snap.stem.removeprefix("scored_")
    return snap.with_name(f"{SUMMARY_PREFIX}{as_of}.html"), snap.with_name(
        f"{SUMMARY_PREFIX}{as_of}.json"
    )


def latest_summary(settings: Settings) -> dict[str, Any] | None:
    """The drift summary stored beside the newest scored snapshot, or None if there is none.

    Used by the service's ``GET /drift``; cheap (no Evidently import).
    """
    from training.snapshot_store import latest_snapshot

    snapshot = latest_snapshot(settings.models_dir)
    if snapshot is None:
        return None
    json_path = summary_paths(snapshot)[1]
    if not json_path.exists():
        return None
    return json.loads(json_path.read_text())


@dataclass(frozen=True)
class ColumnPlan:
    """Which model inputs are compared, and how.

    Attributes:
        tested: columns handed to Evidently (known on both sides).
        one_sided: columns entirely missing on exactly one side (counted as drifted).
        numeric: tested columns compared as numbers; the rest of ``tested`` as categories.
        meanings: plain meaning per column, from the feature spec.
        kinds: ``numeric``/``categorical``/``flag`` per column, from the feature spec.
    """

    tested: list[str]
    one_sided: list[str]
    numeric: frozenset[str]
    meanings: dict[str, str] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)


def plan_columns(current: pd.DataFrame, reference: pd.DataFrame) -> ColumnPlan:
    """Model inputs of the feature spec present in both frames, sorted into test kinds.

    Columns missing everywhere carry no information and are left out; flags and categories
    are compared as categories, the rest as numbers.
    """
    from features.spec import FEATURES

    tested, one_sided, numeric = [], [], set()
    meanings, kinds = {}, {}
    for spec in FEATURES:
        name = spec.name
        if not spec.model_input or name not in current.columns or name not in reference.columns:
            continue
        meanings[name], kinds[name] = spec.meaning, spec.kind
        known = (bool(current[name].notna().any()), bool(reference[name].notna().any()))
        if known == (True, True):
            tested.append(name)
            if spec.kind == "numeric":
                numeric.add(name)
        elif any(known):
            one_sided.append(name)
    return ColumnPlan(tested, one_sided, frozenset(numeric), meanings, kinds)


def prepare_frame(frame: pd.DataFrame, numeric: list[str], categorical: list[str]) -> pd.DataFrame:
    """The columns Evidently needs in plain dtypes: float64 numbers, text categories.

    Missing categories become the category ``missing`` so a change in how often a value is
    unknown counts as drift; Evidently drops missing numbers itself.
    """
    out = {
        c: pd.to_numeric(frame[c].astype("Float64"), errors="coerce").astype("float64")
        for c in numeric
    }
    for c in categorical:
        col = frame[c].astype(object)
        out[c] = col.where(col.notna(), "missing").astype(str)
    return pd.DataFrame(out, index=frame.index)


def _bounded(frame: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    """At most ``rows`` rows: a seeded random sample keeps time and memory bounded."""
    return frame if len(frame) <= rows else frame.sample(n=rows, random_state=seed)


def _evidently_run(
    cur: pd.DataFrame, ref: pd.DataFrame, plan: ColumnPlan, score_on: bool, settings: Settings
):
    """One Evidently report: the drift preset on the features, PSI on the score."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import ValueDrift
    from evidently.presets import DataDriftPreset

    numeric = [c for c in plan.tested if c in plan.numeric]
    categorical = [c for c in plan.tested if c not in plan.numeric]
    if score_on:
        numeric.append(SCORE_COLUMN)
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    metrics: list[Any] = []
    if plan.tested:
        metrics.append(
            DataDriftPreset(columns=plan.tested, drift_share=settings.drift.drifted_share_threshold)
        )
    if score_on:
        metrics.append(
            ValueDrift(
                column=SCORE_COLUMN, method="psi", threshold=settings.drift.score_drift_threshold
            )
        )
    if not metrics:
        raise ValueError("nothing to compare: no shared model feature and no score column")
    frames = [
        Dataset.from_pandas(prepare_frame(f, numeric, categorical), data_definition=definition)
        for f in (cur, ref)
    ]
    return Report(metrics, include_tests=True).run(current_data=frames[0], reference_data=frames[1])


def _parse_results(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per column: Evidently's method, threshold, value and test status from ``snapshot.dict()``."""
    tests = [t for t in report.get("tests", []) if "metric_config" in t]
    status = {t["metric_config"]["metric_id"]: t["status"] for t in tests}
    out: dict[str, dict[str, Any]] = {}
    for metric in report["metrics"]:
        config = metric["config"]
        if not config.get("type", "").endswith(":ValueDrift"):
            continue
        out[config["column"]] = {
            "method": config["method"],
            "threshold": float(config["threshold"]),
            "value": float(metric["value"]),
            "status": status.get(metric["id"]),
        }
    return out


def _is_drifted(result: dict[str, Any]) -> bool:
    """Drift as Evidently's test says; p-value tests drift below, distances at or above."""
    if result["status"] is not None:
        return result["status"] == "FAIL"
    is_p_value = "p_value" in result["method"]
    return (
        result["value"] < result["threshold"]
        if is_p_value
        else result["value"] >= result["threshold"]
    )


def _column_entry(
    name: str, plan: ColumnPlan, results: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    result = results[name]
    is_p_value = "p_value" in result["method"]
    return {
        "column": name,
        "meaning": plan.meanings.get(name, name),
        "kind": plan.kinds.get(name, "numeric"),
        "test": result["method"],
        "statistic": None if is_p_value else result["value"],
        "p_value": result["value"] if is_p_value else None,
        "threshold": result["threshold"],
        "drifted": _is_drifted(result),
    }


def _missing_entry(
    name: str, plan: ColumnPlan, cur: pd.DataFrame, ref: pd.DataFrame
) -> dict[str, Any]:
    """A column known on one side only (a source stopped or started filling it): drifted."""
    gap = abs(float(cur[name].isna().mean()) - float(ref[name].isna().mean()))
    return {
        "column": name,
        "meaning": plan.meanings.get(name, name),
        "kind": plan.kinds.get(name, "numeric"),
        "test": "share missing",
        "statistic": gap,
        "p_value": None,
        "threshold": None,
        "drifted": True,
    }


def _score_entry(
    result: dict[str, Any] | None, cur: pd.DataFrame, ref: pd.DataFrame, threshold: float
) -> dict[str, Any] | None:
    if result is None:
        return None
    return {
        "column": SCORE_COLUMN,
        "test": result["method"],
        "statistic": result["value"],
        "threshold": threshold,
        "drifted": _is_drifted(result),
        "reference_mean": float(ref[SCORE_COLUMN].mean()),
        "current_mean": float(cur[SCORE_COLUMN].mean()),
    }


def _reasons(
    share: float,
    drifted: list[str],
    plan: ColumnPlan,
    score: dict[str, Any] | None,
    channel: dict[str, Any] | None,
    settings: Settings,
) -> list[str]:
    """Plain sentences saying why the run is flagged (empty: not flagged)."""
    cfg = settings.drift
    reasons = []
    if drifted and share >= cfg.drifted_share_threshold:
        names = ", ".join(plan.meanings.get(c, c) for c in drifted)
        limit = cfg.drifted_share_threshold
        reasons.append(
            f"{share:.0%} of the patient characteristics changed (limit {limit:.0%}): {names}."
        )
    if score is not None and score["drifted"]:
        reasons.append(
            f"The spread of return chances moved (PSI {score['statistic']:.2f}, "
            f"limit {cfg.score_drift_threshold:.2f}); "
            f"average {score['reference_mean']:.1%} before, {score['current_mean']:.1%} now."
        )
    if channel is not None and channel["shifted"]:
        reasons.append(
            f"The mix of best channels moved by {channel['total_variation']:.0%} "
            f"(limit {cfg.channel_shift_threshold:.0%})."
        )
    return reasons


def _atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Write a temporary file in the same folder, then rename: readers never see half a file."""
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
