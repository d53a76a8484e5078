"""The daily loop: appointments resolve, patients churn, patients book.

One pass per day over numpy arrays of the patients registered so far. The order inside a
day is fixed and the oracle (``truth``) relies on it:

1. outreach contacts go out in the morning (``outreach.contact``), may win back a churned
   patient and set a booking uplift;
2. appointments of the day resolve (completed / no-show / cancelled); churned patients never
   complete; a completion resets the cadence clock and clears the uplift;
3. provider departures shock their engaged patients, then the daily churn hazard;
4. engaged patients without an appointment book with the booking hazard (plus uplift);
   new registrations book their first consultation the day they register.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.simulator import episodes, outreach
from features.simulator.calendar import Calendar, campaign_days
from features.simulator.hazards import booking_hazard, churn_hazard, lead_pmf, with_uplift
from features.simulator.params import (
    CONSULTATION,
    DECEASED,
    DRIFTED,
    MOVED,
    NO_FIT,
    PROVIDER_LEFT,
    UNHAPPY,
    SimConfig,
)
from features.simulator.population import (
    Population,
    Staff,
    draw_population,
    draw_staff,
    roster,
)
from features.simulator.state import State
from features.vocabulary import CANCELLED_CODE, COMPLETED_CODE, NO_SHOW_CODE, SCHEDULED_CODE


@dataclass(frozen=True)
class RawRun:
    """Everything one run produced, as numpy columns (the export and the oracle read it)."""

    cfg: SimConfig
    calendar: Calendar
    end_day: int
    staff: Staff
    pop: Population
    visits: dict[str, np.ndarray]
    contacts: dict[str, np.ndarray]
    events: dict[str, np.ndarray]
    members: dict[str, np.ndarray]
    campaigns: np.ndarray
    opted_out: np.ndarray
    engaged_end: np.ndarray
    reason_end: np.ndarray
    onsets: dict[str, np.ndarray]  # new problems of idle episodic patients (patient, day)


def run(n_patients: int, seed: int, start: pd.Timestamp, end: pd.Timestamp,
        cfg: SimConfig) -> RawRun:
    """Simulate the clinic from ``start`` through the end of day ``end``."""
    rng = np.random.default_rng(seed)
    end_day = int((end - start).days)
    cal = Calendar(start, end_day + 800, cfg)
    staff = draw_staff(rng, end_day, cfg)
    pop = draw_population(rng, n_patients, end_day, staff, cfg)
    st = State(pop, expected_visits=int(n_patients * 8))
    launches = campaign_days(cfg, end_day)
    gone = np.flatnonzero(pop.init_churned)
    st.events.append(patient=gone, day=np.full(len(gone), -1),
                     engaged=np.zeros(len(gone), bool), reason=pop.init_reason[gone])
    leavers = {int(d): np.flatnonzero(pop.left_day == d) for d in np.unique(pop.left_day)
               if d <= end_day}
    leads, lead_p = lead_pmf(cfg)
    staff_days = roster(staff, cal.n_days)
    for day in range(end_day + 1):
        hi = int(np.searchsorted(pop.created_day, day, side="right"))
        if day in launches:
            outreach.launch(st, pop, day, int(np.searchsorted(launches, day)), hi, rng, cfg)
        outreach.contact(st, pop, day, hi, rng, cfg)
        _resolve(st, pop, day, rng, cfg)
        _churn(st, pop, day, hi, leavers.get(day), rng, cfg)
        _book(st, pop, staff_days, cal, day, hi, leads, lead_p, rng, cfg)
    return RawRun(cfg, cal, end_day, staff, pop, st.visits.freeze(), st.contacts.freeze(),
                  st.events.freeze(), st.members.freeze(), launches, st.opted_out,
                  st.engaged.copy(), st.reason.copy(), st.onsets.freeze())


def _resolve(st: State, pop: Population, day: int, rng: np.random.Generator,
             cfg: SimConfig) -> None:
    """Appointments of ``day``: outcome, revenue, and the completed visit's consequences."""
    due = st.schedule.pop(day, None)
    if not due:
        return
    rec = np.concatenate(due)
    pat = st.visits.col("patient")[rec]
    service = st.visits.col("service")[rec]
    ns, cx = pop.p_no_show[pat], pop.p_cancel[pat]
    u = rng.random(len(rec))
    eng = st.engaged[pat]
    status = np.where(u < ns, NO_SHOW_CODE, np.where(u < ns + cx, CANCELLED_CODE, COMPLETED_CODE))
    status = np.where(eng, status, np.where(u < 0.5, CANCELLED_CODE, NO_SHOW_CODE)).astype(np.int8)
    price = np.asarray(cfg.service_price)[service]
    noise = rng.lognormal(-cfg.price_sigma ** 2 / 2, cfg.price_sigma, len(rec))
    fee_u, fee_amt = rng.random(len(rec)), rng.random(len(rec))
    revenue = np.where(
        status == COMPLETED_CODE,
        np.where((service == CONSULTATION) & (fee_u < cfg.free_consult_share), 0.0, price * noise),
        np.where(status == NO_SHOW_CODE, np.where(fee_u < cfg.no_show_fee_share, 50 + 50 * fee_amt, 0),
                 np.where(fee_u < cfg.late_cancel_fee_share, 25 + 25 * fee_amt, 0.0)),
    )
    st.visits.col("status")[rec] = status
    st.visits.col("revenue")[rec] = np.round(revenue, 2)
    st.pend_day[pat] = -1
    st.pend_rec[pat] = -1
    done = status == COMPLETED_CODE
    p, s = pat[done], service[done]
    first = st.n_completed[p] == 0
    st.laser_done[p] += (s == cfg.series_service).astype(np.int8)
    in_series = (pop.main[p] == cfg.series_service) & (st.laser_done[p] < pop.laser_k[p])
    mu = np.where(first, cfg.post_consult_interval,
                  np.where(in_series, cfg.laser_series_interval, pop.mu_main[p]))
    st.mu[p] = mu
    st.visits.col("mu_after")[rec[done]] = mu
    st.last_day[p] = day
    st.n_completed[p] += 1
    st.up_until[p] = -1
    v = rng.random(len(p))
    bad = v < cfg.bad_visit_share * cfg.churn_after_bad_visit
    no_fit = first & (v >= 1 - cfg.no_fit_after_consult)
    st.churn(p[bad], day, UNHAPPY)
    st.churn(p[no_fit & ~bad], day, NO_FIT)
    episodes.after_completion(st, pop, day, rec[done], p, s, first, rng, cfg)


def _churn(st: State, pop: Population, day: int, hi: int, leaving: np.ndarray | None,
           rng: np.random.Generator, cfg: SimConfig) -> None:
    """Provider-departure shocks, then the silent daily churn of engaged patients."""
    if leaving is not None and len(leaving):
        hit = leaving[st.engaged[leaving] & (rng.random(len(leaving)) < cfg.provider_leave_shock)]
        st.churn(hit, day, PROVIDER_LEFT)
    eng = np.flatnonzero(st.engaged[:hi])
    h = churn_hazard(pop.h0[eng], pop.left_day[eng], day, cfg)
    u = rng.random(len(eng))
    gone = u < h
    idx, hz = eng[gone], h[gone]
    r = rng.random(len(idx))
    p_dead = np.minimum(0.5, 0.03 * np.exp((pop.age[idx] - 50.0) / 12.0))
    reason = np.where(r < p_dead, DECEASED, np.where(r < p_dead + 0.35, MOVED, DRIFTED))
    raised_share = 1.0 - pop.h0[idx] / hz
    reason = np.where(rng.random(len(idx)) < raised_share, PROVIDER_LEFT, reason)
    st.churn(idx, day, reason.astype(np.int8))
    episodes.onsets(st, pop, day, hi, rng, cfg)


def _book(st: State, pop: Population, staff_days: tuple[np.ndarray, np.ndarray],
          cal: Calendar, day: int, hi: int,
          leads: np.ndarray, lead_p: np.ndarray, rng: np.random.Generator,
          cfg: SimConfig) -> None:
    """Engaged patients without an appointment book one (hazard + uplift; new ones always)."""
    free = np.flatnonzero(st.engaged[:hi] & (st.pend_day[:hi] < 0))
    gap = day - st.last_day[free]
    b = booking_hazard(gap, st.mu[free], pop.bmax[free], cal.season[day], cfg)
    b = episodes.mode_hazard(b, st.mode[free], cal.season[day], cfg)
    b = with_uplift(b, st.up_rate[free], st.up_start[free], st.up_until[free], day)
    new = pop.created_day[free] == day
    idx = free[(rng.random(len(free)) < b) | new]
    k = len(idx)
    if k == 0:
        return
    lead = leads[rng.choice(len(leads), k, p=lead_p)]
    vday = cal.visit_day(day, lead).astype(np.int32)
    main = pop.main[idx]
    series = (main == cfg.series_service) & (st.laser_done[idx] < pop.laser_k[idx])
    n_services = len(cfg.services)
    other = (main + 1 + rng.integers(0, n_services - 1, k)) % n_services
    cross = rng.random(k) < cfg.cross_sell_share
    service = np.where(st.n_completed[idx] == 0, CONSULTATION,
                       np.where(series | ~cross, main, other)).astype(np.int8)
    service = episodes.booked_service(service, st, idx, cfg)
    usual = np.where(vday < pop.left_day[idx], pop.provider0[idx], pop.provider1[idx])
    cover = rng.random(k) < 0.1
    provider = usual.astype(np.int16)
    if cover.any():
        loc, vd = pop.location[idx[cover]], vday[cover]
        slot = (rng.random(len(loc)) * staff_days[1][loc, vd]).astype(np.intp)
        provider[cover] = staff_days[0][loc, vd, slot]
    rows = st.visits.append(
        patient=idx, book_day=np.full(k, day), book_min=780 + rng.integers(0, 360, k),
        visit_day=vday, visit_min=480 + 15 * rng.integers(0, 40, k), service=service,
        provider=provider, status=np.full(k, SCHEDULED_CODE), revenue=np.full(k, np.nan),
        mu_after=np.full(k, np.nan), mode_after=np.zeros(k, np.int8),
    )
    st.pend_day[idx] = vday
    st.pend_rec[idx] = rows
    order = np.argsort(vday, kind="stable")
    vs, rs = vday[order], rows[order]
    cuts = np.flatnonzero(np.diff(vs)) + 1
    for d, chunk in zip(vs[np.r_[0, cuts]], np.split(rs, cuts), strict=True):
        st.schedule.setdefault(int(d), []).append(chunk)
