"""What dental recall and physiotherapy episodes of care add to the daily engine.

Dental (``restorative_share`` > 0): after a completed visit that was not itself a treatment,
some patients need restorative treatment (a filling or a crown): their next visit is that
treatment, about ``restorative_interval`` days later, and the six-month recall runs from there.

Physiotherapy / chiropractic (``course_visits`` set): a patient of an episodic service comes
with a problem for a course of 6-10 visits about a week apart. The course ends when its visits
are done or earlier when the patient feels better (``improved_stop`` per visit): the patient
is then ``IDLE`` - engaged, not lapsing, wanting no care - until a new problem arrives
(``episode_hazard`` per day, only while nothing is booked), after which they book an
assessment with the constant ``problem_booking_hazard``. The next completed visit starts a
new course. The oracle (``truth_episodes``) follows the same three modes.

Every function is a no-op (and draws no random number) for a practice without the feature,
so an aesthetics clinic is exactly what it always was.
"""

from __future__ import annotations

import numpy as np

from features.simulator.params import CADENCE, CONSULTATION, IDLE, PROBLEM, SimConfig
from features.simulator.population import Population, course_bounds
from features.simulator.state import State


def after_completion(st: State, pop: Population, day: int, rec: np.ndarray, p: np.ndarray,
                     s: np.ndarray, first: np.ndarray, rng: np.random.Generator,
                     cfg: SimConfig) -> None:
    """Restorative need and course bookkeeping after the completed visits ``rec`` (patients
    ``p``, services ``s``); updates the cadence ``mu`` and the logged ``mu_after`` /
    ``mode_after``."""
    if cfg.restorative_share > 0:
        _restorative(st, rec, p, s, rng, cfg)
    if cfg.course_visits:
        _course(st, pop, rec, p, first, rng, cfg)


def _restorative(st: State, rec: np.ndarray, p: np.ndarray, s: np.ndarray,
                 rng: np.random.Generator, cfg: SimConfig) -> None:
    treated = np.isin(s, cfg.restorative_services)
    st.restore[p[treated]] = -1
    u, pick = rng.random(len(p)), rng.random(len(p))
    need = ~treated & (u < cfg.restorative_share)
    cum = np.cumsum(cfg.restorative_probs) / np.sum(cfg.restorative_probs)
    which = np.asarray(cfg.restorative_services, np.int8)[(pick[:, None] > cum[None, :]).sum(1)]
    st.restore[p[need]] = which[need]
    st.mu[p[need]] = cfg.restorative_interval
    st.visits.col("mu_after")[rec[need]] = cfg.restorative_interval


def _course(st: State, pop: Population, rec: np.ndarray, p: np.ndarray, first: np.ndarray,
            rng: np.random.Generator, cfg: SimConfig) -> None:
    lo, hi = course_bounds(cfg)
    main = pop.main[p]
    episodic = lo[main] > 0
    start = episodic & (first | (st.mode[p] != CADENCE))
    k = rng.integers(lo[main], hi[main] + 1)
    stop_early = rng.random(len(p)) < cfg.improved_stop
    ps = p[start]
    st.course_k[ps] = k[start]
    st.course_done[ps] = 1
    st.mode[ps] = CADENCE
    st.mu[ps] = pop.mu_main[ps]
    st.visits.col("mu_after")[rec[start]] = pop.mu_main[ps]
    cont = episodic & ~start
    pc = p[cont]
    st.course_done[pc] += 1
    ends = cont & ((st.course_done[p] >= st.course_k[p]) | stop_early)
    st.mode[p[ends]] = IDLE
    st.visits.col("mode_after")[rec] = st.mode[p]


def onsets(st: State, pop: Population, day: int, hi: int, rng: np.random.Generator,
           cfg: SimConfig) -> None:
    """New problems of engaged idle patients with nothing booked (after the churn step)."""
    if not cfg.course_visits:
        return
    idle = np.flatnonzero(st.engaged[:hi] & (st.mode[:hi] == IDLE) & (st.pend_day[:hi] < 0))
    hit = idle[rng.random(len(idle)) < pop.episode_h[idle]]
    if len(hit):
        st.mode[hit] = PROBLEM
        st.onsets.append(patient=hit, day=np.full(len(hit), day))


def mode_hazard(base: np.ndarray, mode: np.ndarray, season: float,
                cfg: SimConfig) -> np.ndarray:
    """The booking hazard by mode: an idle patient has no urge of their own, one with a new
    problem books at a constant rate; the cadence hazard otherwise (before outreach)."""
    if not cfg.course_visits:
        return base
    return np.where(mode == IDLE, 0.0,
                    np.where(mode == PROBLEM, cfg.problem_booking_hazard * season, base))


def booked_service(service: np.ndarray, st: State, idx: np.ndarray,
                   cfg: SimConfig) -> np.ndarray:
    """The service of new bookings: a due restorative treatment (dental); an assessment for
    a patient between courses (physiotherapy); ``service`` otherwise."""
    if cfg.restorative_share > 0:
        service = np.where(st.restore[idx] >= 0, st.restore[idx], service)
    if cfg.course_visits:
        service = np.where(st.mode[idx] != CADENCE, CONSULTATION, service)
    return service.astype(np.int8)
