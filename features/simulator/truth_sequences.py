"""The oracle for a whole outreach sequence: P(booking in the window | these attempts).

A sequence is a list of ``(channel, day offset)``: attempt ``i`` goes out in the morning of
``T + 1 + offset_i``. What each attempt does is the engine's (``outreach.contact``): a
response (by channel, age, responsiveness, follow-up fatigue and the patient's deaf channel)
sets the responded uplift, silence the silent one; an opt-out (drawn independently) stops
later attempts on that channel; a silently churned patient who responds may be won back.
The outcomes of the attempts form a tree (silent / responded, won back or not, opted out or
not, only where it matters later); along each path the booking recursion of ``truth`` runs
day by day, so the answer is a sum over paths of exact probabilities, not a frequency.

Like ``truth.p_book_channels``, a patient engaged at T who silently leaves during the window
is counted as lost from that day on (their later responses would be rare and their win-back
chance small); the sequence is sent to the mass that has not booked yet (in the engine
attempts stop once the patient books, which cannot change whether a first booking happened).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from features.simulator.engine import RawRun
from features.simulator.hazards import (
    booking_hazard,
    combine_uplift,
    response_prob,
    uplift_rates,
    with_uplift,
)
from features.simulator.params import CADENCE, DECEASED
from features.simulator.truth import LatentState, Rows, _survive

Sequence = list[tuple[int, int]]  # (channel code, day offset from T + 1)


@dataclass(frozen=True)
class _Node:
    """One path of attempt outcomes so far, over the rows (arrays of length k)."""

    weight: np.ndarray  # P(this path) per row
    free: np.ndarray  # P(engaged, not booked, no appointment pending) per row, at the day
    prob: np.ndarray  # P(first booking so far) per row, given the path
    engaged: np.ndarray  # bool: engaged (at T, or won back on this path)
    rate: np.ndarray
    start: np.ndarray
    until: np.ndarray
    unanswered: np.ndarray  # (4,) this path's silent attempts per channel
    opted: np.ndarray  # (4,) channels opted out on this path


def p_book_sequence(raw: RawRun, s: LatentState, sl: Rows, sequence: Sequence,
                    window_days: int, allowed: np.ndarray | None = None) -> np.ndarray:
    """P(first booking on days T+1 .. T+``window_days``) if ``sequence`` is sent.

    Args:
        s: the latent state at the end of day T of the rows ``sl`` (``truth.state_at``).
        sequence: ``(channel code, offset)`` in send order, offsets increasing from 0.
        window_days: the window, counted from T + 1 (attempts after it are not sent).
        allowed: (k, 4) channels the clinic may use per row; an attempt on another one is
            not sent (default: all).
    """
    offsets = [o for _, o in sequence]
    if offsets != sorted(offsets) or (offsets and offsets[0] < 0):
        raise ValueError("sequence: offsets must be non-negative and in send order")
    if (s.mode != CADENCE).any():
        raise ValueError("p_book_sequence: patients between courses of care (physiotherapy "
                         "modes) are not covered; pass cadence-mode patients only")
    cfg, cal, pop = raw.cfg, raw.calendar, raw.pop
    k = len(s.engaged)
    allowed = np.ones((k, 4), bool) if allowed is None else np.asarray(allowed, bool)
    complete = 1.0 - (pop.p_no_show[sl].astype(np.float64) + pop.p_cancel[sl])
    h0, left_day, bmax = pop.h0[sl], pop.left_day[sl], pop.bmax[sl]
    age, resp, deaf = pop.age[sl], pop.responsiveness[sl], pop.deaf[sl]
    u_resp, u_silent = uplift_rates(cfg)
    winback = np.asarray(cfg.winback_by_reason)[np.maximum(s.reason, 0)]
    dead = s.reason == DECEASED
    days = [s.day + 1 + j for j in range(window_days)]
    base = [booking_hazard(t - s.last_day, s.mu, bmax, cal.season[t], cfg) for t in days]
    survive = [_survive(raw, h0, left_day, t) for t in days]

    def advance(node: _Node, j0: int, j1: int) -> _Node:
        """Run the booking recursion over window days j0 .. j1 - 1 (no attempt among them)."""
        free, prob = node.free.copy(), node.prob.copy()
        eng = node.engaged
        for j in range(j0, j1):
            t = days[j]
            # a missed pre-booked appointment frees the patient; mass not yet lost to churn
            free += np.where(eng & (s.pend_day == t), (1.0 - complete) * alive[j], 0.0)
            free *= np.where(eng, survive[j], 0.0)
            b = with_uplift(base[j], node.rate, node.start, node.until, t)
            prob += free * b
            free *= 1.0 - b
        return replace(node, free=free, prob=prob)

    # survival of engagement from T+1 to the start of day j (for missed-appointment mass)
    alive = np.cumprod(np.vstack([np.ones(k)] + survive[:-1]), axis=0) if days else []
    root = _Node(np.ones(k), np.where(s.engaged & (s.pend_day < 0), 1.0, 0.0), np.zeros(k),
                 s.engaged.copy(), s.up_rate.astype(np.float64), s.up_start.copy(),
                 s.up_until.copy(), np.zeros(4, np.int64), np.zeros(4, bool))
    nodes, j = [root], 0
    sent = [(c, o) for c, o in sequence if o < window_days]
    for i, (ch, off) in enumerate(sent):
        nodes = [advance(n, j, off) for n in nodes]
        j = off
        later = any(c == ch for c, _ in sent[i + 1:])
        nodes = [child for n in nodes for child in _attempt(
            n, ch, days[off], later, allowed[:, ch], cfg, age, resp, deaf, s.reason, dead,
            winback, u_resp[ch], u_silent[ch], s.pend_day)]
    nodes = [advance(n, j, window_days) for n in nodes]
    return np.sum([n.weight * n.prob for n in nodes], axis=0)


def _attempt(n: _Node, ch: int, day: int, later: bool, allowed: np.ndarray, cfg, age, resp,
             deaf, reason, dead, winback, up_r: float, up_s: float,
             pend_day: np.ndarray) -> list[_Node]:
    """The children of ``n`` after an attempt on ``ch`` sent in the morning of ``day``."""
    if n.opted[ch]:
        return [n]
    k = len(n.weight)
    go = allowed.astype(np.float64)
    unanswered = np.broadcast_to(n.unanswered, (k, 4))
    r = response_prob(ch, age, resp, n.engaged, reason, cfg, deaf, unanswered)
    q = np.where(dead, 0.0, cfg.opt_out_rate[ch] * np.where(n.engaged, 1.0, 2.0))
    delay = np.full(k, cfg.response_delay_days[ch], np.int32)
    out: list[_Node] = []
    if (go < 1).any():
        out.append(replace(n, weight=n.weight * (1.0 - go)))
    for responded in (False, True):
        rate, start, until = combine_uplift(n.rate, n.start, n.until,
                                            np.full(k, up_r if responded else up_s), day,
                                            delay, cfg)
        unans = n.unanswered.copy()
        if not responded:
            unans[ch] += 1
        p = r if responded else 1.0 - r
        if responded:
            back = ~n.engaged  # a churned responder is won back with chance ``winback``
            split = [(np.where(back, winback, 1.0), True)]
            if back.any():
                split.append((np.where(back, 1.0 - winback, 0.0), False))
        else:
            split = [(np.ones(k), None)]
        for share, won in split:
            engaged = n.engaged | bool(won)
            free = n.free
            if won:  # won back today: free unless an appointment is still ahead
                free = np.where(~n.engaged, np.where(pend_day < day, 1.0, 0.0), n.free)
            for opted in ((False, True) if later else (None,)):
                w = go * p * share * (1.0 if opted is None else (q if opted else 1.0 - q))
                opt = n.opted.copy()
                if opted:
                    opt[ch] = True
                out.append(_Node(n.weight * w, free, n.prob, engaged, rate, start, until,
                                 unans, opt))
    return out
