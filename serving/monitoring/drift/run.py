"""Run a drift check and write its files: the JSON summary always, Evidently's HTML on demand.

The statistics come from ``serving.monitoring.drift.fast`` (Evidently's formulas in numpy,
milliseconds) whenever the reference is large enough for Evidently's distance tests; Evidently
itself runs only to draw the HTML report — when asked (``html=True``, ``--html``) or when the
run is flagged, so a flagged night always leaves a report to look at.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.atomic_files import write_atomically
from features.config import Settings
from features.vocabulary import CHANNELS
from serving.monitoring.drift.checks import (
    SCORE_COLUMN,
    ColumnPlan,
    column_entry,
    evidently_run,
    missing_entry,
    parse_results,
    plan_columns,
    score_entry,
)
from serving.monitoring.drift.fast import fast_results

CHANNEL_COLUMN = "best_channel"


def run_drift(
    current: pd.DataFrame,
    reference: pd.DataFrame,
    settings: Settings,
    out_dir: Path | str,
    *,
    stem: str = "drift",
    html: bool = False,
) -> dict[str, Any]:
    """Compare ``current`` with ``reference``, write ``{stem}.json`` (and ``{stem}.html``).

    Args:
        current: a scored snapshot (model feature columns, ``return_probability``,
            ``best_channel``); never modified.
        reference: the bundle's reference sample or another scored snapshot. Score and
            channel checks are skipped (reported as ``None``) when it lacks those columns.
        settings: thresholds and sample sizes come from ``settings.monitoring``; ``seed`` fixes
            the sample of large snapshots.
        out_dir: folder for the two files (created if missing).
        stem: file name without suffix.
        html: write Evidently's HTML report even when nothing is flagged (a flagged run
            always gets one).

    Returns:
        The summary written to JSON: ``flagged``, ``reasons`` (plain sentences), ``columns``
        (per column: ``column``, ``meaning``, ``kind``, ``test``, ``statistic``, ``p_value``,
        ``threshold``, ``drifted``), ``drifted_share``, ``drifted_columns``, ``score``,
        ``channel_mix``, row counts, thresholds and the file paths (``html_path`` is None when no
        report was written).
    """
    cfg = settings.monitoring
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cur = _bounded(current, cfg.current_rows, settings.seed)
    ref = _bounded(reference, max(cfg.reference_rows, 1), settings.seed)
    plan = plan_columns(cur, ref)
    score_on = SCORE_COLUMN in cur.columns and SCORE_COLUMN in ref.columns

    results = fast_results(cur, ref, plan, score_on, settings)
    snapshot = None
    if results is None or html:
        snapshot = evidently_run(cur, ref, plan, score_on, settings)
        results = results if results is not None else parse_results(snapshot.dict())
    html_path, json_path = out / f"{stem}.html", out / f"{stem}.json"

    columns = [column_entry(name, plan, results) for name in plan.tested]
    columns += [missing_entry(name, plan, cur, ref) for name in plan.one_sided]
    drifted = [c["column"] for c in columns if c["drifted"]]
    share = len(drifted) / len(columns) if columns else 0.0

    score = (
        score_entry(results.get(SCORE_COLUMN), cur, ref, cfg.score_drift_threshold)
        if score_on
        else None
    )
    channel = channel_mix(cur, ref, cfg.channel_shift_threshold)
    reasons = _reasons(share, drifted, plan, score, channel, settings)
    if html or reasons:
        snapshot = snapshot or _report(cur, ref, plan, score_on, settings, html, drifted)
        write_atomically(html_path, lambda p: snapshot.save_html(str(p)))
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
        "html_path": str(html_path) if (html or reasons) else None,
        "json_path": str(json_path),
    }
    summary = _json_safe(summary)
    write_atomically(json_path, lambda p: p.write_text(json.dumps(summary, indent=2, allow_nan=False)))
    return summary


def _report(cur: pd.DataFrame, ref: pd.DataFrame, plan: ColumnPlan, score_on: bool,
            settings: Settings, asked: bool, drifted: list[str]):  # noqa: ANN202
    """Evidently's report: of every column when asked; on a flagged night, of what moved.

    Why not every column on a flagged night: the JSON summary already holds them all, and
    Evidently draws each column as it computes (at a million patients: 8.2 s for 64 columns
    and their drifted-share count, against 0.3 s to write the file), so a night flagged by
    its score or two columns showed 62 unremarkable charts and took 15 s instead of ~6.
    """
    if asked:
        return evidently_run(cur, ref, plan, score_on, settings)
    moved = [c for c in plan.tested if c in set(drifted)]
    if not moved and not score_on:  # flagged by the channel mix alone: nothing narrower
        return evidently_run(cur, ref, plan, score_on, settings)
    return evidently_run(cur, ref, replace(plan, tested=moved), score_on, settings,
                         count=False)


def channel_mix(
    current: pd.DataFrame, reference: pd.DataFrame, threshold: float
) -> dict[str, Any] | None:
    """Shares of each best channel in both frames and their total variation distance.

    Returns:
        ``None`` when either frame lacks ``best_channel``; else ``reference`` and ``current``
        (share per value: the channels, ``none`` when no channel is allowed or the value is
        missing, ``unknown`` without a channel model), ``total_variation`` (half the sum of
        absolute share differences: 0 same mix, 1 disjoint), ``threshold``, ``shifted``.
    """
    if CHANNEL_COLUMN not in current.columns or CHANNEL_COLUMN not in reference.columns:
        return None
    ref, cur = (
        f[CHANNEL_COLUMN].astype(object).fillna("none").value_counts(normalize=True)
        for f in (reference, current)
    )
    labels = [*CHANNELS, *sorted((set(ref.index) | set(cur.index)) - set(CHANNELS))]
    ref, cur = ref.reindex(labels, fill_value=0.0), cur.reindex(labels, fill_value=0.0)
    tvd = float(0.5 * np.abs(ref - cur).sum())
    return {
        "reference": {k: float(v) for k, v in ref.items()},
        "current": {k: float(v) for k, v in cur.items()},
        "total_variation": tvd,
        "threshold": threshold,
        "shifted": tvd >= threshold,
    }


def _bounded(frame: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    """At most ``rows`` rows: a seeded random sample keeps time and memory bounded."""
    return frame if len(frame) <= rows else frame.sample(n=rows, random_state=seed)


def _reasons(
    share: float,
    drifted: list[str],
    plan: ColumnPlan,
    score: dict[str, Any] | None,
    channel: dict[str, Any] | None,
    settings: Settings,
) -> list[str]:
    """Plain sentences saying why the run is flagged (empty: not flagged)."""
    cfg = settings.monitoring
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


def _json_safe(value: Any) -> Any:
    """Non-finite numbers become None: the summary is served as strict JSON (``GET /drift``)."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
