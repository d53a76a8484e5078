"""Uplift metrics: Qini and uplift curves, uplift at k %, extra bookings of the top k.

Normalisation (stated once, used everywhere): members are sorted by score, best first; at
each cut-off the *gain* is ``Y_t - Y_c * N_t / N_c`` (bookings of the treated listed so far
minus the holdout's, scaled to the treated count), divided by the number of members, so the
curve ``Q(phi)`` is extra bookings per member against the share ``phi`` listed. ``auuc`` is
the area under ``Q`` on [0, 1]; ``qini`` is that area minus the random line's
(``Q(1) / 2``). Against a known truth (the simulator's), ``qini_normalised`` divides the
model's ``qini`` by the oracle's, so 1 is perfect and 0 is random.
"""

from __future__ import annotations

import numpy as np

NORMALISATION = (
    "Qini and AUUC: members sorted by score, best first; the curve is the extra bookings "
    "(treated bookings minus the holdout's scaled to the treated count; against the truth, "
    "the sum of true effects) per member against the share listed; AUUC is its area on "
    "[0, 1], Qini that area minus the random line's; qini_normalised divides by the "
    "oracle's Qini (1 = perfect, 0 = random). Uplift at k%: treated minus holdout booking "
    "rate (against the truth: the mean true effect) among the top k% by score."
)


def qini_curve(score: np.ndarray, treated: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``Q`` at each cut-off 0 .. n (length n + 1), realised outcomes of randomised arms."""
    order = np.argsort(-np.asarray(score, dtype=float), kind="stable")
    t = np.asarray(treated, dtype=bool)[order]
    yy = np.asarray(y, dtype=float)[order]
    n_t, n_c = np.cumsum(t), np.cumsum(~t)
    y_t, y_c = np.cumsum(yy * t), np.cumsum(yy * ~t)
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = np.where(n_c > 0, y_t - y_c * n_t / n_c, y_t)
    return np.r_[0.0, gain] / len(yy)


def truth_curve(score: np.ndarray, true_effect: np.ndarray) -> np.ndarray:
    """``Q`` when each listed patient's true effect is known (cumulative, per patient)."""
    order = np.argsort(-np.asarray(score, dtype=float), kind="stable")
    return np.r_[0.0, np.cumsum(np.asarray(true_effect, dtype=float)[order])] / len(order)


def area(curve: np.ndarray) -> float:
    """Area under a curve sampled at equal steps of ``phi`` on [0, 1]."""
    return float(np.trapezoid(curve, dx=1.0 / (len(curve) - 1)))


def qini(curve: np.ndarray) -> float:
    """Area between the curve and the random line."""
    return area(curve) - float(curve[-1]) / 2.0


def uplift_at(score: np.ndarray, treated: np.ndarray, y: np.ndarray,
              shares: tuple[float, ...] = (0.1, 0.2, 0.3)) -> dict[str, float]:
    """Observed uplift (treated rate - holdout rate) among the top ``share`` by score."""
    order = np.argsort(-np.asarray(score, dtype=float), kind="stable")
    t = np.asarray(treated, dtype=bool)[order]
    yy = np.asarray(y, dtype=float)[order]
    out = {}
    for s in shares:
        k = max(int(round(s * len(yy))), 1)
        tt, y_k = t[:k], yy[:k]
        rate_t = y_k[tt].mean() if tt.any() else np.nan
        rate_c = y_k[~tt].mean() if (~tt).any() else np.nan
        out[f"uplift_at_{int(s * 100)}"] = float(rate_t - rate_c)
    return out


def truth_uplift_at(score: np.ndarray, true_effect: np.ndarray,
                    shares: tuple[float, ...] = (0.1, 0.2, 0.3)) -> dict[str, float]:
    """Mean true effect among the top ``share`` by score (the truth's uplift at k %)."""
    order = np.argsort(-np.asarray(score, dtype=float), kind="stable")
    effect = np.asarray(true_effect, dtype=float)[order]
    return {f"uplift_at_{int(s * 100)}": float(effect[:max(int(round(s * len(effect))), 1)]
                                               .mean()) for s in shares}


def realised_metrics(score: np.ndarray, treated: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Qini, AUUC and uplift at 10/20/30 % on randomised members."""
    curve = qini_curve(score, treated, y)
    return {"qini": qini(curve), "auuc": area(curve), **uplift_at(score, treated, y)}


def extra_bookings(score: np.ndarray, true_effect: np.ndarray, k: int) -> float:
    """True extra bookings of contacting the ``k`` best-scored patients (sum of true effects)."""
    order = np.argsort(-np.asarray(score, dtype=float), kind="stable")[:k]
    return float(np.asarray(true_effect, dtype=float)[order].sum())
