"""Scores of a probability forecast against observed outcomes.

Why one module: the model, every baseline and the oracle are judged by exactly the same
functions on exactly the same rows, so a difference in the table is a difference in the
forecasts, never in the arithmetic.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

METRIC_NAMES: tuple[str, ...] = (
    "auc", "pr_auc", "brier", "log_loss", "ece", "top_decile_lift", "top_decile_capture",
)
LOWER_IS_BETTER: frozenset[str] = frozenset({"brier", "log_loss", "ece"})


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Mean |observed rate - mean forecast| over equal-width probability bins, row-weighted."""
    y = np.asarray(y, dtype=float)
    p = np.clip(np.asarray(p, dtype=float), 0.0, 1.0)
    which = np.minimum((p * bins).astype(int), bins - 1)
    counts = np.bincount(which, minlength=bins)
    sum_p = np.bincount(which, weights=p, minlength=bins)
    sum_y = np.bincount(which, weights=y, minlength=bins)
    has = counts > 0
    gap = np.abs(sum_y[has] - sum_p[has])  # = count * |rate - mean p|
    return float(gap.sum() / max(len(y), 1))


def top_share(y: np.ndarray, score: np.ndarray, share: float = 0.1) -> tuple[float, float]:
    """Lift and capture of the top ``share`` of rows by ``score``.

    Ties at the cut are broken by a fixed stable order so the figure is reproducible.

    Returns:
        (lift, capture): the returner rate in the top rows divided by the overall rate, and
        the share of all returners found in the top rows.
    """
    y = np.asarray(y, dtype=float)
    n_top = max(int(round(len(y) * share)), 1)
    order = np.argsort(-np.asarray(score, dtype=float), kind="stable")[:n_top]
    total = y.sum()
    if total == 0:
        return float("nan"), float("nan")
    top_rate = y[order].mean()
    return float(top_rate / y.mean()), float(y[order].sum() / total)


def score_forecast(
    y: np.ndarray, p: np.ndarray, rank: np.ndarray | None = None
) -> dict[str, float]:
    """All metrics of one forecast.

    Args:
        y: observed 0/1 outcomes.
        p: forecast probabilities (used for Brier, log loss, ECE; and for ranking if
            ``rank`` is None).
        rank: optional ranking score (higher = more likely), for rules whose order is not a
            probability; AUC, PR-AUC, lift and capture use it.

    Returns:
        A dict with the keys of ``METRIC_NAMES`` plus ``rows`` and ``base_rate``.
    """
    y = np.asarray(y, dtype=int)
    p = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    r = p if rank is None else np.asarray(rank, dtype=float)
    both = len(np.unique(y)) == 2
    lift, capture = top_share(y, r)
    return {
        "rows": int(len(y)),
        "base_rate": float(y.mean()) if len(y) else float("nan"),
        "auc": float(roc_auc_score(y, r)) if both else float("nan"),
        "pr_auc": float(average_precision_score(y, r)) if both else float("nan"),
        "brier": float(brier_score_loss(y, p)),
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
        "ece": expected_calibration_error(y, p),
        "top_decile_lift": lift,
        "top_decile_capture": capture,
    }
