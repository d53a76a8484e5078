"""The Evidently part of drift: which columns are compared, how, and what came out.

Evidently is imported inside :func:`evidently_run` only: its import costs ~8 s, and the
service reading a summary (``GET /drift``) must not pay it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from features.config import Settings
from features.spec import FEATURES

SCORE_COLUMN = "return_probability"


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
    are compared as categories, the rest as numbers. Clinic-level context a training run adds
    (``training.context``, e.g. the season index) moves with the calendar by design and is not
    a patient characteristic, so it is not compared.
    """
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


def evidently_run(
    cur: pd.DataFrame, ref: pd.DataFrame, plan: ColumnPlan, score_on: bool, settings: Settings,
    count: bool = True,
):
    """One Evidently report: the drift preset on the features, PSI on the score.

    ``count=False`` leaves out the drifted-columns count (for a report of some columns only,
    where it would count those alone)."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import DriftedColumnsCount, ValueDrift

    numeric = [c for c in plan.tested if c in plan.numeric]
    categorical = [c for c in plan.tested if c not in plan.numeric]
    if score_on:
        numeric.append(SCORE_COLUMN)
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    # DriftedColumnsCount plus one ValueDrift per column is what DataDriftPreset expands to,
    # minus the preset's summary table, which recomputes every test and doubles the run time.
    metrics: list[Any] = [ValueDrift(column=c) for c in plan.tested]
    if plan.tested and count:
        share = settings.monitoring.drifted_share_threshold
        metrics.insert(0, DriftedColumnsCount(columns=plan.tested, drift_share=share))
    if score_on:
        threshold = settings.monitoring.score_drift_threshold
        metrics.append(ValueDrift(column=SCORE_COLUMN, method="psi", threshold=threshold))
    if not metrics:
        raise ValueError("nothing to compare: no shared model feature and no score column")
    frames = [
        Dataset.from_pandas(prepare_frame(f, numeric, categorical), data_definition=definition)
        for f in (cur, ref)
    ]
    return Report(metrics, include_tests=True).run(current_data=frames[0], reference_data=frames[1])


def parse_results(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
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


def is_drifted(result: dict[str, Any]) -> bool:
    """Drift as Evidently's test says; p-value tests drift below, distances at or above."""
    if result["status"] is not None:
        return result["status"] == "FAIL"
    is_p_value = "p_value" in result["method"]
    return (
        result["value"] < result["threshold"]
        if is_p_value
        else result["value"] >= result["threshold"]
    )


def column_entry(name: str, plan: ColumnPlan, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
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
        "drifted": is_drifted(result),
    }


def missing_entry(
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


def score_entry(
    result: dict[str, Any] | None, cur: pd.DataFrame, ref: pd.DataFrame, threshold: float
) -> dict[str, Any] | None:
    if result is None:
        return None
    return {
        "column": SCORE_COLUMN,
        "test": result["method"],
        "statistic": result["value"],
        "threshold": threshold,
        "drifted": is_drifted(result),
        "reference_mean": float(ref[SCORE_COLUMN].mean()),
        "current_mean": float(cur[SCORE_COLUMN].mean()),
    }
