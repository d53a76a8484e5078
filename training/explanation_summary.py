"""What drives the return model, over many patients: global SHAP importance.

Why here and not in the report: the data scientist's notebook and the manager report both
summarise a bundle's SHAP contributions the same way, and the notebook is a training client
(it may not import serving). The report adds its own wording on top.

TreeSHAP costs milliseconds per row, so the summary runs on a seeded sample of rows: a few
hundred to a thousand rows give a stable ranking in seconds even for a million-patient
snapshot.
"""

from __future__ import annotations

import pandas as pd

from training.bundle import SPECS, ModelBundle


def explained_sample(
    bundle: ModelBundle, rows: pd.DataFrame, n: int, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A seeded sample of at most ``n`` of ``rows`` and its SHAP contributions.

    Returns:
        ``(sample, contributions)``: the sampled rows, and ``bundle.explain`` of them (one
        column per model input plus ``bias``, log-odds, on the sample's index).
    """
    sample = rows.sample(n=min(n, len(rows)), random_state=seed)
    return sample, bundle.explain(sample)


def global_importance(contributions: pd.DataFrame) -> pd.DataFrame:
    """Mean absolute SHAP contribution per input, strongest first.

    Args:
        contributions: per-row contributions (``ModelBundle.explain``; ``bias`` is ignored).

    Returns:
        Frame with ``feature``, ``mean_abs_shap``, ``share`` (of the total; the mean itself
        when every contribution is zero) and ``meaning`` (the feature spec's words), one row
        per input, strongest first (ties keep the model's input order).
    """
    strength = contributions.drop(columns="bias", errors="ignore").abs().mean()
    total = float(strength.sum())
    share = strength / total if total > 0 else strength
    order = share.sort_values(ascending=False, kind="stable").index
    return pd.DataFrame({
        "feature": order,
        "mean_abs_shap": strength[order].to_numpy(),
        "share": share[order].to_numpy(),
        "meaning": [feature_meaning(f) for f in order],
    })


def feature_meaning(feature: str) -> str:
    """The declared meaning of a model input; an undeclared column keeps its name, spaced."""
    spec = SPECS.get(feature)
    return spec.meaning if spec is not None else feature.replace("_", " ")


def strongest_contributions(contributions: pd.Series, k: int = 5) -> pd.DataFrame:
    """One row's ``k`` largest contributions by size, with their direction and meaning.

    Returns:
        Frame with ``feature``, ``contribution`` (log-odds, signed), ``meaning``.
    """
    values = contributions.drop(labels="bias", errors="ignore").astype(float)
    top = values.abs().sort_values(ascending=False, kind="stable").head(k).index
    return pd.DataFrame({
        "feature": top,
        "contribution": values[top].to_numpy(),
        "meaning": [feature_meaning(f) for f in top],
    })
