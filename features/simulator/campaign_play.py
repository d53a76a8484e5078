"""Play a campaign forward: the demo clinic's reaction to a list of members and their arms.

From the latent state at the end of the simulated period (``truth.state_at``), days run with
the engine's own order and hazards (``hazards``): the morning's messages (treatment members
only, ``attempts`` of them ``spacing_days`` apart, stopped once the patient books or opts out
of the channel), then the day's appointments resolve, patients churn, free patients book
(base hazard plus the uplift a message left). What a campaign tool and a practice system
would post comes out as outcome events: ``sent``/``failed``/``delivered``/``opened``/
``clicked``/``replied``/``opted_out`` with the campaign and channel; ``booked``,
``attended``, ``no_show``, ``cancelled`` without a campaign, for holdout members too.

Beyond the engine, only delivery failure is new (``PlayConfig.failure_rate``: a failed
message has no effect). ``true_effect`` replays the same members many times with and without
the messages to give the expected extra bookings the campaign causes (the quantity the
holdout comparison estimates), with its Monte-Carlo standard error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.simulator.engine import RawRun
from features.simulator.export import patient_ids
from features.simulator.hazards import (
    booking_hazard,
    churn_hazard,
    combine_uplift,
    lead_pmf,
    response_prob,
    uplift_rates,
    with_uplift,
)
from features.simulator.outreach import allowed_channels
from features.simulator.params import DECEASED
from features.simulator.truth import state_at
from features.vocabulary import CHANNELS, EMAIL, OUTCOME_TYPES, TREATMENT, within_attribution

NAT = np.iinfo(np.int64).min
(SENT, DELIVERED, FAILED, OPENED, CLICKED, REPLIED, OPTED_OUT, BOOKED, ATTENDED, CANCELLED,
 NO_SHOW) = (OUTCOME_TYPES.index(t) for t in (
    "sent", "delivered", "failed", "opened", "clicked", "replied", "opted_out", "booked",
    "attended", "cancelled", "no_show"))


@dataclass(frozen=True)
class PlayConfig:
    """How the campaign is run and how long it is followed.

    Attributes:
        attempts: messages per treatment member (fewer if they book or opt out first).
        spacing_days: days between attempts.
        days: days followed after the last assignment (bookings, then their visits).
        failure_rate: per channel (sms, email, phone, mail), share of messages never
            delivered (no reaction, no uplift).
        open_share: share of emails without a click that are still opened.
    """

    attempts: int = 2
    spacing_days: int = 7
    days: int = 42
    failure_rate: tuple[float, ...] = (0.03, 0.05, 0.0, 0.0)
    open_share: float = 0.3


class _Log:
    """Outcome events as parallel lists of numpy chunks."""

    def __init__(self) -> None:
        self.cols: dict[str, list[np.ndarray]] = {k: [] for k in (
            "row", "type", "at", "channel", "revenue", "appointment")}

    def add(self, row: np.ndarray, type_: int, at: np.ndarray, channel: np.ndarray | int = -1,
            revenue: np.ndarray | float = np.nan, appointment: np.ndarray | int = NAT) -> None:
        k = len(row)
        for name, value in (("row", row), ("type", np.full(k, type_)), ("at", at),
                            ("channel", channel), ("revenue", revenue),
                            ("appointment", appointment)):
            self.cols[name].append(np.broadcast_to(np.asarray(value), (k,)).copy())

    def frame(self) -> dict[str, np.ndarray]:
        return {k: np.concatenate(v) if v else np.zeros(0) for k, v in self.cols.items()}


def _ns(raw: RawRun, day: np.ndarray | int, minute: np.ndarray) -> np.ndarray:
    day = np.broadcast_to(np.asarray(day), np.shape(minute))
    return raw.calendar.timestamps(day, np.asarray(minute)).view(np.int64)


def _plan(channel: np.ndarray, play: PlayConfig) -> tuple[np.ndarray, np.ndarray]:
    """(n, attempts) channels and day offsets: ``play.attempts`` on one channel, evenly spaced."""
    a = np.arange(play.attempts) * play.spacing_days
    return np.repeat(channel[:, None], play.attempts, axis=1), np.broadcast_to(
        a, (len(channel), play.attempts))


def _play(raw: RawRun, pat: np.ndarray, treated: np.ndarray, plan: tuple[np.ndarray, np.ndarray],
          day0: np.ndarray, rng: np.random.Generator,
          play: PlayConfig) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Run the rows (one per member, possibly repeated); events and first booking per row.

    ``plan`` is (n, A) channel codes (-1: no attempt) and day offsets from ``day0``.
    """
    cfg, cal, pop = raw.cfg, raw.calendar, raw.pop
    if (day0 <= raw.end_day).any():
        raise ValueError("campaign_members.assigned_at: must be after the simulated period")
    s = state_at(raw, raw.end_day).take(pat)
    engaged, reason, pend = s.engaged.copy(), s.reason.copy(), s.pend_day.copy()
    last_day, mu = s.last_day.copy(), s.mu.astype(np.float64)
    up_rate, up_start, up_until = s.up_rate.copy(), s.up_start.copy(), s.up_until.copy()
    opted = raw.opted_out[pat].copy()
    n, log, first = len(pat), _Log(), np.full(len(pat), NAT, np.int64)
    pend_min = np.zeros(n, np.int64)
    u_resp, u_silent = uplift_rates(cfg)
    delay = np.asarray(cfg.response_delay_days)
    leads, lead_p = lead_pmf(cfg)
    plan_ch, plan_off = plan
    unanswered = np.zeros((n, 4), np.int8)
    last_off = int(plan_off.max()) if plan_off.size else 0
    for t in range(int(day0.min()), int(day0.max()) + max(play.days, last_off) + 1):
        hit = (plan_off == (t - day0)[:, None]) & (plan_ch >= 0)
        due = np.flatnonzero(treated & hit.any(axis=1) & (first == NAT))
        channel = np.where(hit[due], plan_ch[due], -1).max(axis=1)
        keep = ~opted[due, channel]
        due, channel = due[keep], channel[keep]
        if len(due):
            ch, k = channel, len(due)
            minute = 540 + rng.integers(0, 180, k)
            log.add(due, SENT, _ns(raw, t, minute), ch)
            ok = rng.random(k) >= np.asarray(play.failure_rate)[ch]
            log.add(due[~ok], FAILED, _ns(raw, t, minute[~ok] + 1), ch[~ok])
            log.add(due[ok], DELIVERED, _ns(raw, t, minute[ok] + 1), ch[ok])
            idx, ch, minute = due[ok], ch[ok], minute[ok]
            k, eng, p_ = len(idx), engaged[idx], pat[idx]
            p = response_prob(ch, pop.age[p_], pop.responsiveness[p_], eng, reason[idx], cfg,
                              pop.deaf[p_], unanswered[idx])
            responded = rng.random(k) < p
            unanswered[idx[~responded], ch[~responded]] += 1
            out = rng.random(k) < np.asarray(cfg.opt_out_rate)[ch] * np.where(eng, 1.0, 2.0)
            out &= reason[idx] != DECEASED
            opted[idx, ch] |= out
            back = ~eng & responded & (
                rng.random(k) < np.asarray(cfg.winback_by_reason)[np.maximum(reason[idx], 0)])
            engaged[idx[back]], reason[idx[back]] = True, -1
            rate, start, until = combine_uplift(
                up_rate[idx], up_start[idx], up_until[idx],
                np.where(responded, u_resp[ch], u_silent[ch]), t, delay[ch], cfg)
            up_rate[idx], up_start[idx], up_until[idx] = rate, start, until
            r_at = _ns(raw, t + delay[ch], np.where(delay[ch] == 0, minute + rng.integers(5, 60, k),
                                                    600 + rng.integers(0, 120, k)))
            email = ch == CHANNELS.index(EMAIL)
            seen = email & (responded | (rng.random(k) < play.open_share))
            log.add(idx[seen], OPENED, r_at[seen] - 60_000_000_000, ch[seen])
            log.add(idx[responded & email], CLICKED, r_at[responded & email], EMAIL_CODE)
            log.add(idx[responded & ~email], REPLIED, r_at[responded & ~email],
                    ch[responded & ~email])
            log.add(idx[out], OPTED_OUT, r_at[out], ch[out])
        _resolve(raw, t, pat, engaged, pend, pend_min, last_day, mu, up_until, rng, log)
        alive = np.flatnonzero(engaged)
        p_ = pat[alive]
        h = churn_hazard(pop.h0[p_], pop.left_day[p_], t, cfg)
        h = np.where(pop.left_day[p_] == t, 1 - (1 - h) * (1 - cfg.provider_leave_shock), h)
        engaged[alive[rng.random(len(alive)) < h]] = False
        free = np.flatnonzero(engaged & (pend < 0))
        p_ = pat[free]
        b = booking_hazard(t - last_day[free], mu[free], pop.bmax[p_], cal.season[t], cfg)
        b = with_uplift(b, up_rate[free], up_start[free], up_until[free], t)
        new = free[rng.random(len(free)) < b]
        if len(new):
            lead = leads[rng.choice(len(leads), len(new), p=lead_p)]
            pend[new] = cal.visit_day(t, lead)
            pend_min[new] = 480 + 15 * rng.integers(0, 40, len(new))
            at = _ns(raw, t, 780 + rng.integers(0, 360, len(new)))
            log.add(new, BOOKED, at, appointment=_ns(raw, pend[new], pend_min[new]))
            first[new] = np.where((first[new] == NAT) & (t >= day0[new]), at, first[new])
    return log.frame(), first


EMAIL_CODE = CHANNELS.index(EMAIL)


def _resolve(raw: RawRun, t: int, pat: np.ndarray, engaged: np.ndarray, pend: np.ndarray,
             pend_min: np.ndarray, last_day: np.ndarray, mu: np.ndarray,
             up_until: np.ndarray, rng: np.random.Generator, log: _Log) -> None:
    """Appointments of day ``t``: kept (revenue), missed or cancelled, as the engine draws."""
    cfg, pop = raw.cfg, raw.pop
    due = np.flatnonzero(pend == t)
    if len(due) == 0:
        return
    p_ = pat[due]
    u = rng.random(len(due))
    ns, cx = pop.p_no_show[p_], pop.p_cancel[p_]
    status = np.where(u < ns, NO_SHOW, np.where(u < ns + cx, CANCELLED, ATTENDED))
    status = np.where(engaged[due], status, np.where(u < 0.5, CANCELLED, NO_SHOW))
    at = _ns(raw, t, pend_min[due])
    price = np.asarray(cfg.service_price)[pop.main[p_]]
    revenue = np.round(price * rng.lognormal(-cfg.price_sigma ** 2 / 2, cfg.price_sigma,
                                             len(due)), 2)
    for kind in (ATTENDED, NO_SHOW, CANCELLED):
        m = status == kind
        log.add(due[m], kind, at[m], revenue=revenue[m] if kind == ATTENDED else np.nan)
    done = due[status == ATTENDED]
    last_day[done], mu[done], up_until[done] = t, pop.mu_main[pat[done]], -1
    pend[due] = -1


def _rows(raw: RawRun, members: pd.DataFrame,
          rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Patient numbers, treated flags, channel codes and assignment days of the members."""
    pat = pd.Index(patient_ids(raw)).get_indexer(members["patient_id"].to_numpy(dtype=object))
    if (pat < 0).any():
        raise ValueError("campaign_members.patient_id: not a patient of the simulation")
    treated = members["arm"].to_numpy(dtype=object) == TREATMENT
    allowed = allowed_channels(raw.pop, raw.opted_out, pat)
    given = pd.Index(CHANNELS).get_indexer(members["channel"].to_numpy(dtype=object))
    given = np.where((given >= 0) & allowed[np.arange(len(pat)), np.maximum(given, 0)], given, -1)
    cum = np.cumsum(allowed, axis=1)
    drawn = (cum <= (rng.random(len(pat)) * cum[:, -1])[:, None]).sum(axis=1)
    channel = np.where(given >= 0, given, np.where(cum[:, -1] > 0, drawn, -1))
    start = raw.calendar.start
    day0 = ((members["assigned_at"].dt.normalize() - start).dt.days).to_numpy(np.int64)
    return pat, treated, channel, day0


def play_campaign(raw: RawRun, members: pd.DataFrame, seed: int,
                  config: PlayConfig | None = None) -> pd.DataFrame:
    """Outcome events of one campaign (``OUTCOME_EVENT_DTYPES`` columns, unique ids).

    ``members`` are ``campaign_members`` rows of one campaign, assigned after the simulated
    period; a member's ``channel`` is used when allowed, else one allowed channel is drawn.
    """
    rng = np.random.default_rng(seed)
    campaign = members["campaign_id"].unique()
    if len(campaign) != 1:
        raise ValueError("campaign_members.campaign_id: play one campaign at a time")
    pat, treated, channel, day0 = _rows(raw, members, rng)
    play = config or PlayConfig()
    ev, _ = _play(raw, pat, treated, _plan(channel, play), day0, rng, play)
    order = np.lexsort((ev["type"], ev["at"]))
    ev = {k: v[order] for k, v in ev.items()}
    types = np.asarray(OUTCOME_TYPES, dtype=object)[ev["type"].astype(np.int64)]
    contact = ev["channel"].astype(np.int64) >= 0
    return pd.DataFrame({
        "event_id": [f"{campaign[0]}-{seed}-{i:07d}" for i in range(len(order))],
        "patient_id": members["patient_id"].to_numpy(dtype=object)[ev["row"].astype(np.int64)],
        "campaign_id": np.where(contact, campaign[0], None).astype(object),
        "channel": np.where(contact, np.asarray(CHANNELS, dtype=object)[
            np.maximum(ev["channel"].astype(np.int64), 0)], None).astype(object),
        "type": types,
        "at": ev["at"].astype(np.int64).view("datetime64[ns]"),
        "revenue": ev["revenue"].astype(np.float64),
        "cost": np.nan,
        "appointment_at": ev["appointment"].astype(np.int64).view("datetime64[ns]"),
    })


def true_effect(raw: RawRun, members: pd.DataFrame, window_days: int, seed: int = 0,
                replications: int = 200, config: PlayConfig | None = None) -> dict[str, float]:
    """Expected extra bookings the campaign causes among its treatment members.

    Each treatment member is replayed ``replications`` times with the messages and as many
    times without them (independent draws, same channels); a member counts as booked when a
    booking lies at or after ``assigned_at`` and inside the window, the rule of the results.

    Returns:
        ``expected_extra_bookings`` (treatment members x the difference of booking chances),
        its Monte-Carlo ``standard_error``, and ``rate_contacted`` / ``rate_not_contacted``.
    """
    rng = np.random.default_rng(seed)
    treat = members[members["arm"].to_numpy(dtype=object) == TREATMENT]
    pat, _, channel, day0 = _rows(raw, treat, rng)
    assigned = treat["assigned_at"].to_numpy("datetime64[ns]")
    rep = np.tile(np.arange(len(treat)), replications)
    rates = []
    play = config or PlayConfig()
    for contacted in (True, False):
        _, first = _play(raw, pat[rep], np.full(len(rep), contacted),
                         _plan(channel[rep], play), day0[rep], rng, play)
        at = first.view("datetime64[ns]")
        booked = (first != NAT) & (at >= assigned[rep]) & within_attribution(
            at, assigned[rep], window_days)
        rates.append(booked.astype(np.float64))
    n = len(treat)
    diff = rates[0].mean() - rates[1].mean()
    se = np.sqrt(rates[0].var() / len(rep) + rates[1].var() / len(rep))
    return {"expected_extra_bookings": float(n * diff), "standard_error": float(n * se),
            "rate_contacted": float(rates[0].mean()), "rate_not_contacted": float(rates[1].mean())}


def sequence_booking_rate(raw: RawRun, pat: np.ndarray, sequence: list[tuple[int, int]],
                          window_days: int, replications: int, seed: int = 0) -> np.ndarray:
    """Monte-Carlo share of replays booking in the window when ``sequence`` is sent.

    The check of ``truth_sequences.p_book_sequence``: patients ``pat`` (numbers), attempts
    ``(channel code, offset)`` from the day after the simulated period, days counted as there.
    """
    rng = np.random.default_rng(seed)
    rep = np.tile(np.asarray(pat), replications)
    ch = np.tile(np.array([c for c, _ in sequence]), (len(rep), 1))
    off = np.tile(np.array([o for _, o in sequence]), (len(rep), 1))
    day0 = np.full(len(rep), raw.end_day + 1)
    play = PlayConfig(days=window_days)
    _, first = _play(raw, rep, np.ones(len(rep), bool), (ch, off), day0, rng, play)
    day = (first.view("datetime64[ns]") - raw.calendar.start.to_datetime64()) // np.timedelta64(
        1, "D")
    booked = (first != NAT) & (day >= raw.end_day + 1) & (day <= raw.end_day + window_days)
    return booked.reshape(replications, len(pat)).mean(axis=0)
