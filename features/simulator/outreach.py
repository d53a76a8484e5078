"""Past win-back campaigns: who was targeted, who was held out, what each contact did.

Quarterly, the clinic lists lapsed patients (no completed visit for 180-730 days, nothing
booked, not marked do-not-contact or deceased, not targeted in the previous two campaigns),
holds out a random 15 %, and contacts the rest 4-5 times, 1-2 weeks apart, each time on a
channel drawn at random among the ones it may use (consented and not opted out). Attempts
stop once the patient books. Each attempt left unanswered lowers the pull of the next
(``SimConfig.fatigue_*``), and a patient's deaf channel is never answered. Randomised
channels and holdout are what let a channel model and an uplift estimate learn something real from the export.
"""

from __future__ import annotations

import numpy as np

from features.simulator.hazards import combine_uplift, response_prob, uplift_rates
from features.simulator.params import DECEASED, SimConfig
from features.simulator.population import NEVER, Population
from features.simulator.state import State


def allowed_channels(pop: Population, opted_out: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """(k, 4) channels the clinic may use: consented, or unknown except SMS; not opted out."""
    consent = pop.consent[idx] & ~pop.consent_unknown[idx]
    unknown_ok = pop.consent_unknown[idx] & (np.arange(4) != 0)[None, :]
    return (consent | unknown_ok) & ~opted_out[idx]


def launch(st: State, pop: Population, day: int, campaign: int, hi: int,
           rng: np.random.Generator, cfg: SimConfig) -> None:
    """Pick the lapsed patients of campaign number ``campaign``; schedule first attempts."""
    gap = day - st.last_day[:hi]
    lo, up = cfg.campaign_lapsed_days
    known_dead = ~st.engaged[:hi] & (st.reason[:hi] == DECEASED)
    ok = (
        (gap >= lo) & (gap <= up) & (st.pend_day[:hi] < 0) & (st.n_completed[:hi] > 0)
        & ~pop.do_not_contact[:hi] & ~known_dead
        & (day - st.last_target[:hi] >= cfg.campaign_cooldown_days)
    )
    idx = np.flatnonzero(ok)
    idx = idx[allowed_channels(pop, st.opted_out, idx).any(axis=1)]
    holdout = rng.random(len(idx)) < cfg.campaign_holdout
    st.members.append(patient=idx, campaign=np.full(len(idx), campaign), holdout=holdout)
    st.last_target[idx] = day
    go = idx[~holdout]
    lo_a, hi_a = cfg.attempts
    st.camp_left[go] = rng.integers(lo_a, hi_a + 1, len(go))
    st.camp_next[go] = day + rng.integers(0, cfg.first_attempt_spread_days, len(go))
    st.contact_days.update(np.unique(st.camp_next[go]).tolist())
    st.camp_idx[go] = campaign
    st.camp_launch[go] = day
    st.camp_unanswered[go] = 0


def contact(st: State, pop: Population, day: int, hi: int, rng: np.random.Generator,
            cfg: SimConfig) -> None:
    """Send today's attempts; draw reactions, opt-outs, win-backs and the booking uplift."""
    if day not in st.contact_days:
        return
    st.contact_days.discard(day)
    due = np.flatnonzero((st.camp_next[:hi] == day) & (st.camp_left[:hi] > 0))
    if len(due) == 0:
        return
    booked = (st.pend_day[due] >= 0) | (st.last_day[due] >= st.camp_launch[due])
    allowed = allowed_channels(pop, st.opted_out, due)
    stop = booked | ~allowed.any(axis=1)
    st.camp_left[due[stop]] = 0
    idx, allowed = due[~stop], allowed[~stop]
    k = len(idx)
    if k == 0:
        return
    cum = np.cumsum(allowed, axis=1)
    pick = rng.random(k) * cum[:, -1]
    channel = (cum <= pick[:, None]).sum(axis=1).astype(np.int8)
    eng = st.engaged[idx]
    p = response_prob(channel, pop.age[idx], pop.responsiveness[idx], eng, st.reason[idx], cfg,
                      pop.deaf[idx], st.camp_unanswered[idx])
    responded = rng.random(k) < p
    st.camp_unanswered[idx[~responded], channel[~responded]] += 1
    p_out = np.asarray(cfg.opt_out_rate)[channel] * np.where(eng, 1.0, 2.0)
    opted = rng.random(k) < p_out
    opted &= st.reason[idx] != DECEASED
    st.opted_out[idx, channel] |= opted
    winback = np.asarray(cfg.winback_by_reason)[np.maximum(st.reason[idx], 0)]
    back = ~eng & responded & (rng.random(k) < winback)
    st.reengage(idx[back], day)
    u_resp, u_silent = uplift_rates(cfg)
    new_rate = np.where(responded, u_resp[channel], u_silent[channel])
    delay = np.asarray(cfg.response_delay_days)[channel]
    rate, start, until = combine_uplift(st.up_rate[idx], st.up_start[idx], st.up_until[idx],
                                        new_rate, day, delay, cfg)
    st.up_rate[idx], st.up_start[idx], st.up_until[idx] = rate, start, until
    minute = 540 + rng.integers(0, 180, k)
    resp_min = np.where(delay == 0, minute + rng.integers(5, 60, k), 600 + rng.integers(0, 120, k))
    st.contacts.append(
        patient=idx, day=np.full(k, day), minute=minute, channel=channel,
        campaign=st.camp_idx[idx], responded=responded, reacted=responded | opted,
        resp_day=day + delay, resp_min=resp_min, opted_out=opted, up_rate=rate, up_start=start,
        up_until=until,
    )
    st.camp_left[idx] -= 1
    lo, hi_s = cfg.attempt_spacing_days
    st.camp_next[idx] = np.where(st.camp_left[idx] > 0, day + rng.integers(lo, hi_s + 1, k), -1)
    st.contact_days.update(np.unique(st.camp_next[idx]).tolist())
    st.camp_launch[idx[st.camp_left[idx] == 0]] = NEVER
