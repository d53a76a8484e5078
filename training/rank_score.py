"""The scored snapshot's ``rank_score``: a total order that is the return model's own order.

Why a separate key: a gradient-boosted model is a sum of leaf values, so patients who fall in
the same leaf of every tree get exactly the same score. On the demo group 2-5 % of each
clinic's top 5,000 share their raw score with someone (groups of up to 15); calibration is
strictly monotone (``training.calibration``) and cannot separate them, and a tie ordered by
patient id is an order by the alphabet. ``rank_score`` keeps every order the booster has and
breaks only its exact ties, with a key the model's own inputs carry:

    rank_score = log-odds of the booster + TIE_WEIGHT * due_closeness

``due_closeness`` is ``1 / (1 + |ln overdue_ratio|)`` in (0, 1]: 1 for a patient whose days
since the last visit equal their expected interval (``features.pipeline.cadence``), falling
symmetrically in ratio - half-way there and twice as late are equally far. Why this key: a
patient's return is most likely around their usual interval (the recall and renewal view a
tree model draws in steps); patients the trees cannot tell apart are, on the demo group's
ties, ordered right by it more often than wrong (55-60 % of tied pairs against the
simulator's true return probability; the channel model's booking probability, recency,
revenue per visit, uplift and age were at or below 53 %). A patient whose ``overdue_ratio``
is unknown (no expected interval) gets 0, after every patient who has one. Two patients
equal on both keys are the same patient to the model; ``serving.targeting.index`` lists
them by patient id.

Why ``TIE_WEIGHT`` = 1e-9 in log-odds: two different leaf sums closer than that do not occur
in practice (and would differ by less than 3e-10 in probability), while float64 still
resolves the closeness to about 1e-6 at the log-odds a score reaches. So sorting by
``rank_score`` is sorting by the model's score, then by closeness to due.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TIE_WEIGHT = 1e-9
_MIN_RATIO = 1e-3  # a visit on the as-of day (ratio 0) counts as a thousandth of the interval


def due_closeness(overdue_ratio: np.ndarray | pd.Series) -> np.ndarray:
    """``1 / (1 + |ln ratio|)`` per patient: 1 when exactly due, 0 without an interval."""
    ratio = np.asarray(pd.to_numeric(pd.Series(overdue_ratio), errors="coerce"),
                       dtype=float)
    with np.errstate(invalid="ignore"):
        distance = np.abs(np.log(np.maximum(ratio, _MIN_RATIO)))
    return np.where(np.isfinite(distance), 1.0 / (1.0 + distance), 0.0)


def rank_scores(margin: np.ndarray, overdue_ratio: np.ndarray | pd.Series) -> np.ndarray:
    """The tie-free ranking key from the booster's log-odds ``margin`` (higher ranks first)."""
    return np.asarray(margin, dtype=float) + TIE_WEIGHT * due_closeness(overdue_ratio)
