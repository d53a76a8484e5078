"""Which kind of patient a listed record is, in the words a receptionist uses.

Why here: the /rank records, the /score records and the manager report name the same four
groups, from the snapshot's ``uplift`` (the chosen channel's) and ``return_probability``,
with the thresholds of ``settings.policy``. Without an uplift estimate no group is named
(``None``): the service then says it ranks by return probability instead.

Each group also says which way its reasons must point (:func:`reason_direction`), so that a
patient's group and first reason never contradict each other: "needs a nudge" is explained
by what raises the uplift, "likely to come back on their own" by what raises the return
probability (or, when the reasons explain the uplift, by what keeps it low).
"""

from __future__ import annotations

import numpy as np

from features.config import Settings
from training.bundle import RETURN_BASIS, UPLIFT_BASIS

NEEDS_NUDGE = "needs a nudge"
ON_THEIR_OWN = "likely to come back on their own"
UNLIKELY = "unlikely to respond"
LEFT_ALONE = "better left alone"
KINDS: tuple[str, ...] = (NEEDS_NUDGE, ON_THEIR_OWN, UNLIKELY, LEFT_ALONE)


def patient_kinds(uplift: np.ndarray, return_probability: np.ndarray,
                  settings: Settings) -> np.ndarray:
    """One kind per row (object array; ``None`` where the uplift is unknown).

    Rules, first match wins: uplift below ``policy.left_alone_uplift`` -> better left alone;
    at least ``policy.nudge_uplift`` -> needs a nudge; return probability at least
    ``policy.on_their_own_probability`` -> likely to come back on their own; else unlikely
    to respond.
    """
    u = np.asarray(uplift, dtype=float)
    p = np.asarray(return_probability, dtype=float)
    cfg = settings.policy
    kinds = np.where(u < cfg.left_alone_uplift, LEFT_ALONE,
                     np.where(u >= cfg.nudge_uplift, NEEDS_NUDGE,
                              np.where(p >= cfg.on_their_own_probability, ON_THEIR_OWN,
                                       UNLIKELY))).astype(object)
    kinds[np.isnan(u)] = None
    return kinds


# Which way the first reason of each group points: +1 "why it is high", -1 "why it is low",
# per what the reasons explain (``training.bundle``: the return model or the uplift).
# "needs a nudge" and "better left alone" say nothing about the return probability, and no
# group (no uplift estimate) means the patient is listed for being likely to return: +1.
DIRECTIONS: dict[str, dict[str | None, int]] = {
    RETURN_BASIS: {NEEDS_NUDGE: 1, ON_THEIR_OWN: 1, UNLIKELY: -1, LEFT_ALONE: 1, None: 1},
    UPLIFT_BASIS: {NEEDS_NUDGE: 1, ON_THEIR_OWN: -1, UNLIKELY: -1, LEFT_ALONE: -1, None: 1},
}


def reason_direction(kinds: np.ndarray | list, basis: str) -> np.ndarray:
    """+1 or -1 per row: the way the reasons of each patient's group must point."""
    table = DIRECTIONS[basis]
    return np.array([table[k] for k in kinds], dtype=np.int8)
