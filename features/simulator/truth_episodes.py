"""The oracle's forward recursion for patients between courses of care (physiotherapy).

A patient in ``IDLE`` or ``PROBLEM`` mode at T stays in one of two pools until their first
completed visit (which is all the oracle needs): idle (no booking urge of their own; a new
problem arrives with the patient's daily ``episode_h`` while nothing is booked) and problem
(books with the constant ``problem_booking_hazard``). Outreach uplift acts on both. A missed
appointment returns its mass to the pool it was booked from. The day's order is the
engine's: appointments resolve, churn (factorised out as in ``truth``), onsets, bookings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from features.simulator.hazards import lead_pmf, with_uplift
from features.simulator.params import IDLE, PROBLEM

if TYPE_CHECKING:
    from features.simulator.engine import RawRun
    from features.simulator.truth import LatentState


def p_return_between_courses(raw: RawRun, s: LatentState, rows: np.ndarray, horizon: int,
                             survive: Callable) -> np.ndarray:
    """P(completed visit on a day in T+1 .. T+H, no new outreach) for idle/problem patients.

    Args:
        raw: the run (``engine.RawRun``).
        s: their ``truth.LatentState``.
        rows: their patient numbers.
        horizon: days H.
        survive: ``survive(h0, left_day, t)``, the engagement survival of day ``t``.
    """
    cfg, cal, pop = raw.cfg, raw.calendar, raw.pop
    k = len(rows)
    leads, lead_p = lead_pmf(cfg)
    complete = 1.0 - (pop.p_no_show[rows].astype(np.float64) + pop.p_cancel[rows])
    idle, prob_mode = s.mode == IDLE, s.mode == PROBLEM
    pend = {IDLE: np.zeros((horizon + 1, k)), PROBLEM: np.zeros((horizon + 1, k))}
    off = s.pend_day - s.day - 1
    has = (s.pend_day >= 0) & (off < horizon)
    for m, mask in ((IDLE, idle), (PROBLEM, prob_mode)):
        on = has & mask
        pend[m][off[on], np.flatnonzero(on)] = 1.0
    free = {IDLE: (idle & (s.pend_day < 0)).astype(float),
            PROBLEM: (prob_mode & (s.pend_day < 0)).astype(float)}
    surv, prob = np.ones(k), np.zeros(k)
    h0, left_day, onset = pop.h0[rows], pop.left_day[rows], pop.episode_h[rows]
    for j in range(horizon):
        t = s.day + 1 + j
        for m in (IDLE, PROBLEM):
            arrive = pend[m][j]
            prob += surv * arrive * complete
            free[m] += arrive * (1.0 - complete)
        surv *= survive(h0, left_day, t)
        new = free[IDLE] * onset
        free[IDLE] -= new
        free[PROBLEM] += new
        base = {IDLE: 0.0, PROBLEM: cfg.problem_booking_hazard * cal.season[t]}
        for m in (IDLE, PROBLEM):
            b = with_uplift(np.full(k, base[m]), s.up_rate, s.up_start, s.up_until, t)
            book = free[m] * b
            free[m] -= book
            for lead, pl in zip(leads, lead_p, strict=True):
                o = int(cal.visit_day(t, lead)) - s.day - 1
                if o < horizon:
                    pend[m][o] += book * pl
    return np.where(s.engaged, prob, 0.0)


def p_book_between_courses(raw: RawRun, s: LatentState, rows: np.ndarray, surv: np.ndarray, rate: np.ndarray,
                           start: np.ndarray, until: np.ndarray) -> np.ndarray:
    """P(first booking on days T+1 .. T+A) for idle/problem patients engaged from T+1
    (``surv``: cumulative engagement survival per window day, as ``truth._window``)."""
    cfg, cal, pop = raw.cfg, raw.calendar, raw.pop
    k = len(rows)
    complete = 1.0 - (pop.p_no_show[rows].astype(np.float64) + pop.p_cancel[rows])
    idle, prob_mode = s.mode == IDLE, s.mode == PROBLEM
    free_i = (idle & (s.pend_day < 0)).astype(float)
    free_p = (prob_mode & (s.pend_day < 0)).astype(float)
    onset = pop.episode_h[rows]
    prob = np.zeros(k)
    for j in range(len(surv)):
        t = s.day + 1 + j
        miss = np.where(s.pend_day == t, 1.0 - complete, 0.0)
        free_i += miss * idle
        free_p += miss * prob_mode
        new = free_i * onset
        free_i, free_p = free_i - new, free_p + new
        b_i = with_uplift(np.zeros(k), rate, start, until, t)
        b_p = with_uplift(np.full(k, cfg.problem_booking_hazard * cal.season[t]), rate, start,
                          until, t)
        prob += surv[j] * (free_i * b_i + free_p * b_p)
        free_i, free_p = free_i * (1.0 - b_i), free_p * (1.0 - b_p)
    return prob
