"""Evidently's default drift statistics computed directly with numpy/scipy, in milliseconds.

Why: the JSON summary is needed after every scoring run, but ``import evidently`` alone costs
~8 s and a report on 50,000 rows another ~10 s. For a reference sample of more than 1,000
rows (every bundle's: ``monitoring.reference_rows`` is 5,000) Evidently's defaults are three
formulas, reproduced here exactly (a test compares them with Evidently's own values):

* numeric column with more than 5 distinct values: Wasserstein distance divided by the
  reference's standard deviation (at least 0.001), drifted from 0.1;
* other numeric and every categorical column: Jensen-Shannon distance between the value
  shares, drifted from 0.1;
* the score: PSI over Sturges bins of both samples (value shares when the reference has at
  most 20 values), zero shares replaced by a tiny one as Evidently does.

With a small reference (Evidently switches to p-value tests) :func:`fast_results` returns
None and Evidently decides, as before. Evidently still draws the HTML report when one is
wanted.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial import distance

from features.config import Settings
from serving.monitoring.drift.checks import SCORE_COLUMN, ColumnPlan, prepare_frame

SMALL_REFERENCE_ROWS = 1000
WASSERSTEIN = "Wasserstein distance (normed)"
JENSEN_SHANNON = "Jensen-Shannon distance"


def fast_results(
    cur: pd.DataFrame, ref: pd.DataFrame, plan: ColumnPlan, score_on: bool, settings: Settings
) -> dict[str, dict[str, Any]] | None:
    """Per column the ``method``, ``threshold``, ``value`` and ``status`` Evidently would give.

    Returns None when the reference is small enough for Evidently's p-value tests.
    """
    if len(ref) <= SMALL_REFERENCE_ROWS:
        return None
    numeric = [c for c in plan.tested if c in plan.numeric]
    categorical = [c for c in plan.tested if c not in plan.numeric]
    if score_on:
        numeric.append(SCORE_COLUMN)
    cur_p, ref_p = (prepare_frame(f, numeric, categorical) for f in (cur, ref))
    out: dict[str, dict[str, Any]] = {}
    for col in plan.tested:
        r, c = ref_p[col], cur_p[col]
        if col in plan.numeric:
            r, c = _finite(r), _finite(c)
            if pd.concat([r, c]).nunique() > 5:
                value, method = _wasserstein(r.to_numpy(), c.to_numpy()), WASSERSTEIN
            else:
                value, method = _jensen_shannon(r, c), JENSEN_SHANNON
        else:
            value, method = _jensen_shannon(r, c), JENSEN_SHANNON
        out[col] = _result(method, 0.1, value)
    if score_on:
        r, c = _finite(ref_p[SCORE_COLUMN]), _finite(cur_p[SCORE_COLUMN])
        out[SCORE_COLUMN] = _result("psi", settings.monitoring.score_drift_threshold, _psi(r, c))
    return out


def _result(method: str, threshold: float, value: float) -> dict[str, Any]:
    return {"method": method, "threshold": float(threshold), "value": float(value),
            "status": "FAIL" if value >= threshold else "SUCCESS"}


def _finite(values: pd.Series) -> pd.Series:
    return values.replace([-np.inf, np.inf], np.nan).dropna()


def _wasserstein(ref: np.ndarray, cur: np.ndarray) -> float:
    norm = max(float(np.std(ref)), 0.001)
    return float(stats.wasserstein_distance(ref, cur) / norm)


def _shares(ref: pd.Series, cur: pd.Series, binned: bool) -> tuple[np.ndarray, np.ndarray]:
    if binned:
        bins = np.histogram_bin_edges(np.concatenate([ref.to_numpy(), cur.to_numpy()]), "sturges")
        return (np.histogram(ref, bins)[0] / len(ref), np.histogram(cur, bins)[0] / len(cur))
    keys = pd.Index(pd.concat([ref, cur]).unique())
    return (ref.value_counts().reindex(keys, fill_value=0).to_numpy() / len(ref),
            cur.value_counts().reindex(keys, fill_value=0).to_numpy() / len(cur))


def _jensen_shannon(ref: pd.Series, cur: pd.Series) -> float:
    return float(distance.jensenshannon(*_shares(ref, cur, binned=False)))


def _psi(ref: pd.Series, cur: pd.Series) -> float:
    r, c = _shares(ref, cur, binned=ref.nunique() > 20)
    for p in (r, c):
        low = p[p != 0].min()
        np.place(p, p == 0, low / 10**6 if low <= 0.0001 else 0.0001)
    return float(np.sum((r - c) * np.log(r / c)))
