"""The oracle: exact return and channel-booking probabilities from the latent state.

Given the latent state at the end of day T (engaged or silently gone, the booked
appointment, the cadence clock, any outreach uplift still running, the provider's
departure), the future follows the engine's daily hazards. Churn is independent of the
appointment state, so P(first completed visit on day t) factorises into the survival of
engagement up to day t-1 times the first-completion probability of a no-churn booking
process; that process is propagated exactly, day by day, over the lead-time distribution
(a forward recursion, not a Monte-Carlo frequency). Nothing here draws random numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.simulator.engine import RawRun
from features.simulator.hazards import (
    booking_hazard,
    churn_hazard,
    combine_uplift,
    lead_pmf,
    response_prob,
    uplift_rates,
    with_uplift,
)
from features.simulator.params import CADENCE, IDLE, PROBLEM
from features.simulator.truth_episodes import p_book_between_courses, p_return_between_courses
from features.vocabulary import COMPLETED_CODE

CHUNK = 200_000
Rows = slice | np.ndarray  # which patients (numbers into the population arrays)


@dataclass(frozen=True)
class LatentState:
    """Latent state of the registered patients (0 .. n-1) at the end of day ``day``."""

    day: int
    engaged: np.ndarray
    reason: np.ndarray
    pend_day: np.ndarray
    last_day: np.ndarray
    mu: np.ndarray
    up_rate: np.ndarray
    up_start: np.ndarray
    up_until: np.ndarray
    mode: np.ndarray  # CADENCE, IDLE or PROBLEM (episodes of care; ``episodes``)

    def take(self, rows: Rows) -> LatentState:
        """The same state for some patients (a slice or patient numbers)."""
        return LatentState(self.day, *(getattr(self, f)[rows] for f in (
            "engaged", "reason", "pend_day", "last_day", "mu", "up_rate", "up_start",
            "up_until", "mode")))


def _last_per_patient(patient: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """For rows in time order: patients present and the index of each one's last row."""
    rev = patient[::-1]
    uniq, first = np.unique(rev, return_index=True)
    keep = uniq < n
    return uniq[keep], (len(patient) - 1 - first)[keep]


def state_at(raw: RawRun, day: int) -> LatentState:
    """Rebuild the engine's state at the end of ``day`` from the logged events."""
    pop = raw.pop
    n = int(np.searchsorted(pop.created_day, day, side="right"))
    engaged = ~pop.init_churned[:n]
    reason = pop.init_reason[:n].copy()
    ev = raw.events
    m = ev["day"] <= day
    who, last = _last_per_patient(ev["patient"][m], n)
    engaged[who] = ev["engaged"][m][last]
    reason[who] = ev["reason"][m][last]
    v = raw.visits
    pend_day = np.full(n, -1, np.int32)
    m = (v["book_day"] <= day) & (v["visit_day"] > day) & (v["patient"] < n)
    pend_day[v["patient"][m]] = v["visit_day"][m]
    last_day = pop.init_last_day[:n].copy()
    mu = pop.init_mu[:n].copy()
    m = (v["status"] == COMPLETED_CODE) & (v["visit_day"] <= day)
    order = np.argsort(v["visit_day"][m], kind="stable")
    who, last = _last_per_patient(v["patient"][m][order], n)
    last_day[who] = v["visit_day"][m][order][last]
    mu[who] = v["mu_after"][m][order][last]
    mode = pop.init_mode[:n].copy()
    mode[who] = v["mode_after"][m][order][last]
    o = raw.onsets
    m = o["day"] <= day
    who, last = _last_per_patient(o["patient"][m], n)
    onset_after = (mode[who] == IDLE) & (o["day"][m][last] >= last_day[who])
    mode[who[onset_after]] = PROBLEM
    c = raw.contacts
    up_rate = np.zeros(n)
    up_start = np.zeros(n, np.int32)
    up_until = np.full(n, -1, np.int32)
    m = c["day"] <= day
    who, last = _last_per_patient(c["patient"][m], n)
    alive = c["day"][m][last] > last_day[who]  # a later completion cleared it
    who, last = who[alive], last[alive]
    up_rate[who] = c["up_rate"][m][last]
    up_start[who] = c["up_start"][m][last]
    up_until[who] = c["up_until"][m][last]
    return LatentState(day, engaged, reason, pend_day, last_day, mu, up_rate, up_start,
                       up_until, mode)


def p_return(raw: RawRun, s: LatentState, sl: Rows, horizon: int) -> np.ndarray:
    """P(completed visit on a day in T+1 .. T+H, no new outreach) for patients ``sl``."""
    cfg, cal, pop = raw.cfg, raw.calendar, raw.pop
    k = len(s.engaged)
    leads, lead_p = lead_pmf(cfg)
    complete = 1.0 - (pop.p_no_show[sl].astype(np.float64) + pop.p_cancel[sl])
    pend = np.zeros((horizon + 1, k))
    off = s.pend_day - s.day - 1
    has = (s.pend_day >= 0) & (off < horizon)
    pend[off[has], np.flatnonzero(has)] = 1.0
    free = (s.pend_day < 0).astype(np.float64)
    surv = np.ones(k)
    prob = np.zeros(k)
    h0, left_day, bmax = pop.h0[sl], pop.left_day[sl], pop.bmax[sl]
    for j in range(horizon):
        t = s.day + 1 + j
        arrive = pend[j]
        prob += surv * arrive * complete
        free += arrive * (1.0 - complete)
        surv *= _survive(raw, h0, left_day, t)
        b = booking_hazard(t - s.last_day, s.mu, bmax, cal.season[t], cfg)
        b = with_uplift(b, s.up_rate, s.up_start, s.up_until, t)
        book = free * b
        free -= book
        for lead, pl in zip(leads, lead_p, strict=True):
            o = int(cal.visit_day(t, lead)) - s.day - 1
            if o < horizon:
                pend[o] += book * pl
    prob = np.where(s.engaged, prob, 0.0)
    between = np.flatnonzero(s.mode != CADENCE)
    if len(between):
        prob[between] = p_return_between_courses(
            raw, s.take(between), _numbers(sl, k)[between], horizon,
            lambda h, ld, t: _survive(raw, h, ld, t))
    return prob


def _numbers(sl: Rows, k: int) -> np.ndarray:
    """Patient numbers of ``sl`` (a slice or an array of ``k`` numbers)."""
    return np.arange(sl.start, sl.start + k) if isinstance(sl, slice) else np.asarray(sl)


def _survive(raw: RawRun, h0: np.ndarray, left_day: np.ndarray, t: int) -> np.ndarray:
    """Chance an engaged patient is still engaged after day ``t``'s churn step."""
    cfg = raw.cfg
    shock = np.where(left_day == t, 1.0 - cfg.provider_leave_shock, 1.0)
    return shock * (1.0 - churn_hazard(h0, left_day, t, cfg))


def _window(raw: RawRun, s: LatentState, sl: Rows) -> tuple[np.ndarray, np.ndarray]:
    """Per day of the attribution window: base booking hazard and engagement survival."""
    cfg, cal, pop = raw.cfg, raw.calendar, raw.pop
    days = range(s.day + 1, s.day + 1 + cfg.attribution_days)
    base = np.stack([booking_hazard(t - s.last_day, s.mu, pop.bmax[sl], cal.season[t], cfg)
                     for t in days])
    h0, left_day = pop.h0[sl], pop.left_day[sl]
    surv = np.cumprod(np.stack([_survive(raw, h0, left_day, t) for t in days]), axis=0)
    return base, surv


def _p_book(raw: RawRun, s: LatentState, sl: Rows, base: np.ndarray, surv: np.ndarray,
            rate: np.ndarray, start: np.ndarray, until: np.ndarray) -> np.ndarray:
    """P(first booking on days T+1 .. T+A) for patients engaged from the morning of T+1.

    A completed visit inside the window ends the chance (nobody books within
    ``min_gap_days`` of a completed visit); a missed one frees the patient to book.
    """
    pop = raw.pop
    complete = 1.0 - (pop.p_no_show[sl].astype(np.float64) + pop.p_cancel[sl])
    free = (s.pend_day < 0).astype(np.float64)
    prob = np.zeros(len(free))
    for j in range(len(base)):
        t = s.day + 1 + j
        free += np.where(s.pend_day == t, 1.0 - complete, 0.0)
        b = with_uplift(base[j], rate, start, until, t)
        prob += surv[j] * free * b
        free *= 1.0 - b
    between = np.flatnonzero(s.mode != CADENCE)
    if len(between):
        prob[between] = p_book_between_courses(
            raw, s.take(between), _numbers(sl, len(free))[between], surv[:, between],
            rate[between], start[between], until[between])
    return prob


def p_book_channels(raw: RawRun, s: LatentState, sl: Rows) -> np.ndarray:
    """(k, 4): P(booking within the attribution window | one contact on the channel at T+1).

    Engaged: response (or not) sets the uplift. Silently churned: only a response followed
    by a win-back (chance by churn reason) can lead to a booking. A patient's deaf channel is
    never answered (a first contact has no earlier attempt, so fatigue does not apply).
    """
    cfg, pop = raw.cfg, raw.pop
    k = len(s.engaged)
    u_resp, u_silent = uplift_rates(cfg)
    base, surv = _window(raw, s, sl)
    winback = np.asarray(cfg.winback_by_reason)[np.maximum(s.reason, 0)]
    out = np.zeros((k, 4))
    for ch in range(4):
        delay = np.full(k, cfg.response_delay_days[ch], np.int32)
        booked = []
        for rate_new in (u_resp[ch], u_silent[ch]):
            rate, start, until = combine_uplift(s.up_rate, s.up_start, s.up_until,
                                                np.full(k, rate_new), s.day + 1, delay, cfg)
            booked.append(_p_book(raw, s, sl, base, surv, rate, start, until))
        r = response_prob(ch, pop.age[sl], pop.responsiveness[sl], s.engaged, s.reason, cfg,
                          pop.deaf[sl])
        out[:, ch] = np.where(s.engaged, r * booked[0] + (1 - r) * booked[1],
                              r * winback * booked[0])
    return out


def p_book_none(raw: RawRun, s: LatentState, sl: Rows) -> np.ndarray:
    """P(booking within the attribution window | no new contact) for patients ``sl``.

    The no-contact arm of the uplift oracle: the same window and recursion as
    :func:`p_book_channels`, with only the outreach already sent acting. A silently churned
    patient cannot book without a contact that wins them back, so gets 0.
    """
    base, surv = _window(raw, s, sl)
    booked = _p_book(raw, s, sl, base, surv, s.up_rate, s.up_start, s.up_until)
    return np.where(s.engaged, booked, 0.0)


def chunks(n: int) -> list[slice]:
    """Patient slices of at most ``CHUNK`` rows (bounds the oracle's memory)."""
    return [slice(i, min(i + CHUNK, n)) for i in range(0, n, CHUNK)]
