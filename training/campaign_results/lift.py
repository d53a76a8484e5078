"""The randomised comparison: treatment against holdout, with 95% intervals.

* Booking rates: the difference of two proportions with **Newcombe's hybrid score
  interval** (Newcombe 1998, method 10: Wilson intervals of each arm combined). Unlike the
  Wald interval it stays inside [-1, 1] and keeps its coverage when bookings are rare or an
  arm is small, which is the usual case for a clinic's first campaigns.
* Incremental bookings: treatment members x the rate difference and its interval (the
  holdout's rate stands for what the treated would have done anyway).
* Incremental revenue: the difference of mean revenue per member (Welch's normal interval),
  times the treatment members.
* Members needed: from the Wald variance at the observed rates and arm split, the total
  members for which the interval would exclude zero.
"""

from __future__ import annotations

import math

import numpy as np

from training.campaign_results.tally import ratio

Z95 = 1.959963984540054


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion ``k / n`` (``n`` > 0)."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe(k1: int, n1: int, k2: int, n2: int, z: float = Z95) -> list[float] | None:
    """Newcombe's hybrid score interval for ``k1/n1 - k2/n2`` (None if an arm is empty)."""
    if n1 == 0 or n2 == 0:
        return None
    p1, p2 = k1 / n1, k2 / n2
    (l1, u1), (l2, u2) = wilson(k1, n1, z), wilson(k2, n2, z)
    d = p1 - p2
    return [d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2),
            d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)]


def welch(x1: np.ndarray, x2: np.ndarray, z: float = Z95) -> tuple[float, list[float] | None]:
    """Difference of means and its normal interval with unpooled variances."""
    if len(x1) == 0 or len(x2) == 0:
        return math.nan, None
    d = float(x1.mean() - x2.mean())
    if len(x1) < 2 or len(x2) < 2:
        return d, None
    se = math.sqrt(x1.var(ddof=1) / len(x1) + x2.var(ddof=1) / len(x2))
    return d, [d - z * se, d + z * se]


def members_needed(p1: float, p2: float, holdout_share: float, z: float = Z95) -> int | None:
    """Total members (both arms, same split) whose Wald interval would exclude zero."""
    d = p1 - p2
    if d == 0 or not 0 < holdout_share < 1:
        return None
    variance = p1 * (1 - p1) / (1 - holdout_share) + p2 * (1 - p2) / holdout_share
    return max(1, math.ceil(z * z * variance / (d * d)))


def _scaled(interval: list[float] | None, factor: float, digits: int) -> list[float] | None:
    return None if interval is None else [round(v * factor, digits) for v in interval]


def versus_holdout(booked_t: np.ndarray, booked_h: np.ndarray, revenue_t: np.ndarray,
                   revenue_h: np.ndarray, contacted_h: int) -> dict[str, object]:
    """The lift block from per-member booked flags and revenue of each arm."""
    n_t, n_h = len(booked_t), len(booked_h)
    k_t, k_h = int(booked_t.sum()), int(booked_h.sum())
    rate_t, rate_h = ratio(k_t, n_t), ratio(k_h, n_h)
    both = rate_t is not None and rate_h is not None
    diff = rate_t - rate_h if both else None
    interval = newcombe(k_t, n_t, k_h, n_h)
    revenue_diff, revenue_interval = welch(revenue_t, revenue_h)
    enough = interval is not None and not interval[0] <= 0 <= interval[1]
    needed = None
    if both and not enough:
        needed = members_needed(rate_t, rate_h, n_h / (n_t + n_h))
        needed = None if needed is None else max(needed, n_t + n_h + 1)
    return {
        "treatment": {"members": n_t, "booked": k_t, "booking_rate": rate_t},
        "holdout": {"members": n_h, "booked": k_h, "booking_rate": rate_h,
                    "contacted": contacted_h},
        "incremental_bookings": None if rate_h is None else round(k_t - rate_h * n_t, 4),
        "incremental_bookings_ci95": _scaled(interval, n_t, 4),
        "incremental_rate": diff,
        "incremental_rate_ci95": interval,
        "incremental_revenue": None if math.isnan(revenue_diff) else round(revenue_diff * n_t, 2),
        "incremental_revenue_ci95": _scaled(revenue_interval, n_t, 2),
        "interval_method": "Newcombe hybrid score (rates); Welch normal (revenue)",
        "enough_data": enough,
        "members_needed": needed,
    }
