"""The model's side of the report: what drives returning (SHAP) and how healthy it is.

Global importance is the mean absolute SHAP contribution over a seeded sample of
``SHAP_SAMPLE`` of the snapshot's patients (``training.explanation_summary``, the same summary
the retraining notebook shows); this module adds the manager's wording and the beeswarm
data. Backtest figures come from the bundle's metrics; the calibration and gains curves
need outcomes, which the bundle's reference sample carries when it has a ``label`` column
(validation-window rows).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from serving.monitoring.report import fmt
from serving.monitoring.report.data import Explanations, ModelHealth
from training.baselines import RULE_COLUMNS, rule_ranking
from training.bundle import SPECS
from training.explanation_summary import explained_sample, feature_meaning, global_importance

SHAP_SAMPLE = 1000
TOP_FEATURES = 10
RULE_NAMES: dict[str, str] = {
    "recency": "Most recent visit first (simple rule)",
    "overdue": "Most overdue first (simple rule)",
    "bgnbd": "Visit-frequency model (BG/NBD)",
}
MODEL_NAME = "This model"


def plain_name(feature: str) -> str:
    """The feature spec's meaning of a model input, in a manager's words.

    The spec is written for analysts ("... to the as-of date"); the report speaks of "now".
    A column the spec does not know keeps its name, with spaces.
    """
    return fmt.plain(feature_meaning(feature))


def global_explanations(bundle: object, snapshot: pd.DataFrame, seed: int) -> Explanations:
    """Mean |SHAP| ranking and beeswarm data over a seeded sample of ``snapshot`` rows."""
    sample, contrib = explained_sample(bundle, snapshot, SHAP_SAMPLE, seed)
    top = global_importance(contrib).head(TOP_FEATURES).set_index("feature")["share"]
    labels = [plain_name(f) for f in top.index]
    ranks = np.column_stack(
        [
            pd.to_numeric(sample[f], errors="coerce").rank(pct=True).to_numpy(dtype=float)
            if SPECS.get(f) is None or SPECS[f].kind != "categorical"
            else np.full(len(sample), np.nan)
            for f in top.index
        ]
    )
    return Explanations(
        importance=pd.DataFrame({"feature": top.index, "label": labels, "share": top.to_numpy()}),
        values=contrib[top.index].to_numpy(dtype=float),
        colour_rank=ranks,
        labels=labels,
    )


def calibration_table(p: np.ndarray, y: np.ndarray, bands: int = 10) -> pd.DataFrame:
    """Mean predicted vs observed return rate per band of equal patient counts.

    Returns:
        ``predicted``, ``observed``, ``patients`` per band, lowest band first.
    """
    band = pd.qcut(pd.Series(p).rank(method="first"), q=min(bands, len(p)), labels=False)
    frame = pd.DataFrame({"p": p, "y": y, "band": band})
    table = frame.groupby("band").agg(
        predicted=("p", "mean"), observed=("y", "mean"), patients=("y", "size")
    )
    return table.reset_index(drop=True)


def gains_table(y: np.ndarray, scores: dict[str, np.ndarray], steps: int = 20) -> pd.DataFrame:
    """Share of all returners reached when contacting the top share of patients per ranking.

    Returns:
        ``contacted`` (0, 1/steps, ..., 1) and one column per ranking of ``scores``.
    """
    y = np.asarray(y, dtype=float)
    n, total = len(y), max(float(y.sum()), 1.0)
    cut = np.round(np.linspace(0.0, 1.0, steps + 1) * n).astype(int)
    out = {"contacted": cut / max(n, 1)}
    for name, score in scores.items():
        order = np.argsort(-np.asarray(score, dtype=float), kind="stable")
        reached = np.concatenate([[0.0], np.cumsum(y[order])])
        out[name] = reached[cut] / total
    return pd.DataFrame(out)


def model_health(bundle: object) -> ModelHealth | None:
    """Backtest AUCs of the model and the baselines, with curves when outcomes are known."""
    table = (getattr(bundle, "metrics", None) or {}).get("return")
    if not table or "model" not in table:
        return None
    rules = {RULE_NAMES[k]: v["auc"] for k, v in table.items() if k in RULE_NAMES}
    aucs = pd.concat(
        [
            pd.Series({MODEL_NAME: table["model"]["auc"]}),
            pd.Series(rules, dtype=float).sort_values(ascending=False),
        ]
    )
    window = getattr(bundle, "window", {}) or {}
    dates = window.get("validation") or []
    horizon = window.get("horizon_days")
    when = (
        f"patients as of {', '.join(dates)}, visits in the following {horizon} days"
        if dates and horizon
        else None
    )
    reference = bundle.reference
    if "label" not in reference.columns:
        return ModelHealth(aucs=aucs, window=when)
    y = reference["label"].to_numpy(dtype=float)
    p = reference["return_probability"].to_numpy(dtype=float)
    scores = {MODEL_NAME: p}
    for key, column in RULE_COLUMNS.items():
        if key in table and column in reference.columns:
            direction = float(table[key].get("direction", 1.0))
            scores[RULE_NAMES[key]] = rule_ranking(reference, column, direction)
    return ModelHealth(
        aucs=aucs, calibration=calibration_table(p, y), gains=gains_table(y, scores), window=when
    )
