"""Which kind of patient a listed record is, in the words a receptionist uses.

Why here: the /rank records, the /score records and the manager report name the same four
groups, from the snapshot's ``uplift`` (the chosen channel's) and ``return_probability``,
with the thresholds of ``settings.policy``. Without an uplift estimate no group is named
(``None``): the service then says it ranks by return probability instead.
"""

from __future__ import annotations

import numpy as np

from features.config import Settings

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
