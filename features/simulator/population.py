"""Who the clinic's patients and providers are: everything drawn once, before day 0.

Patients are sorted by registration day so the engine can work on the prefix of patients
registered so far. A latent "commitment" score ties together churn propensity, no-show and
cancellation habits, booking eagerness and responsiveness, which is what makes past
behaviour predictive (and silent churn what keeps the oracle ahead of any model).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.simulator.params import (
    CADENCE,
    DRIFTED,
    IDLE,
    MOVED,
    UNHAPPY,
    SimConfig,
)

NEVER = np.iinfo(np.int32).max // 2


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _logit(p: float) -> float:
    return float(np.log(p / (1.0 - p)))


@dataclass(frozen=True)
class Staff:
    """Providers: home location, hire and leave days (``NEVER`` if they stay)."""

    location: np.ndarray
    hire_day: np.ndarray
    leave_day: np.ndarray

    @property
    def ids(self) -> np.ndarray:
        """Provider ids as exported (``prov_01`` ...)."""
        return np.array([f"prov_{i + 1:02d}" for i in range(len(self.location))], dtype=object)

    def pick_active(self, rng: np.random.Generator, loc: np.ndarray, day: np.ndarray,
                    stayers_only: bool = False) -> np.ndarray:
        """A random provider of each ``loc`` active on ``day`` (seniors weigh 1.5)."""
        out = np.zeros(len(loc), dtype=np.int16)
        u = rng.random(len(loc))
        for L in range(int(self.location.max()) + 1):
            idx = np.flatnonzero(loc == L)
            provs = np.flatnonzero(self.location == L)
            if len(idx) == 0:
                continue
            d = day[idx, None]
            ok = (self.hire_day[provs][None, :] <= d) & (d < self.leave_day[provs][None, :])
            if stayers_only:
                ok &= self.leave_day[provs][None, :] == NEVER
            w = ok * np.where(self.hire_day[provs] < -2000, 1.5, 1.0)[None, :]
            cum = np.cumsum(w, axis=1)
            choice = (cum < (u[idx] * cum[:, -1])[:, None]).sum(axis=1)
            out[idx] = provs[np.minimum(choice, len(provs) - 1)]
        return out


def roster(staff: Staff, n_days: int) -> tuple[np.ndarray, np.ndarray]:
    """Who works where each day: ``(providers[loc, day, slot], count[loc, day])``.

    Used to draw a covering provider for a visit without a per-visit search.
    """
    n_loc = int(staff.location.max()) + 1
    days = np.arange(n_days)
    width = int(np.bincount(staff.location, minlength=n_loc).max())
    provs = np.zeros((n_loc, n_days, width), np.int16)
    count = np.zeros((n_loc, n_days), np.int16)
    for p in range(len(staff.location)):  # a few dozen providers
        L = staff.location[p]
        on = (staff.hire_day[p] <= days) & (days < staff.leave_day[p])
        provs[L, on, count[L, on]] = p
        count[L, on] += 1
    return provs, count


def draw_staff(rng: np.random.Generator, n_days: int, cfg: SimConfig) -> Staff:
    """Each location: a senior who stays, juniors of whom some leave and get replaced."""
    loc, hire, leave = [], [], []
    for L, k in enumerate(cfg.providers_per_location):
        loc.append(L), hire.append(-3000), leave.append(NEVER)
        for _ in range(k - 1):
            loc.append(L), hire.append(int(rng.integers(-1500, -30)))
            if rng.random() < cfg.leaver_share and n_days > 300:
                day = int(rng.integers(120, n_days - 60))
                leave.append(day)
                loc.append(L), hire.append(day + int(rng.integers(30, 91))), leave.append(NEVER)
            else:
                leave.append(NEVER)
    return Staff(np.array(loc, np.int8), np.array(hire, np.int32), np.array(leave, np.int32))


@dataclass(frozen=True)
class Population:
    """Static patient attributes (arrays over patients, sorted by ``created_day``)."""

    created_day: np.ndarray
    age: np.ndarray
    sex: np.ndarray  # 0 = F, 1 = M
    location: np.ndarray
    provider0: np.ndarray  # usual provider at registration
    provider1: np.ndarray  # usual provider after provider0 leaves
    left_day: np.ndarray  # day provider0 leaves (NEVER if not)
    main: np.ndarray
    mu_main: np.ndarray
    laser_k: np.ndarray
    bmax: np.ndarray
    h0: np.ndarray
    p_no_show: np.ndarray
    p_cancel: np.ndarray
    responsiveness: np.ndarray
    consent: np.ndarray  # (n, 4) the patient's answer
    consent_unknown: np.ndarray  # (n, 4) the clinic never recorded it
    do_not_contact: np.ndarray
    init_last_day: np.ndarray
    init_mu: np.ndarray
    init_churned: np.ndarray
    init_reason: np.ndarray
    episode_h: np.ndarray  # daily chance of a new problem while idle (0: no episodes)
    course_k0: np.ndarray  # visits in the course under way at registration / ``start``
    course_done0: np.ndarray  # of which done before ``start``
    init_mode: np.ndarray  # CADENCE, IDLE or PROBLEM at ``start``
    deaf: np.ndarray  # the channel the patient never answers (-1: none)

    @property
    def n(self) -> int:
        """Number of patients."""
        return len(self.created_day)


def _created_days(rng: np.random.Generator, n: int, n_days: int, cfg: SimConfig) -> np.ndarray:
    """Existing base registered before day 0; the rest join at a slowly rising rate."""
    existing = rng.random(n) < cfg.existing_share
    u = rng.random(n)
    # density on [0, D] proportional to 1 + 0.5 t / D: invert t + 0.25 t^2 / D = u * 1.25 D
    d = float(max(n_days, 1))
    new = (-1.0 + np.sqrt(1.0 + 4 * 0.25 / d * u * 1.25 * d)) / (2 * 0.25 / d)
    days = np.where(existing, -rng.integers(1, 1500, n), np.floor(new)).astype(np.int32)
    return np.sort(np.minimum(days, n_days))


def draw_population(rng: np.random.Generator, n: int, n_days: int, staff: Staff,
                    cfg: SimConfig) -> Population:
    """Draw every static attribute of ``n`` patients."""
    created = _created_days(rng, n, n_days, cfg)
    n_main = len(cfg.main_services)
    main = np.asarray(cfg.main_services, np.int8)[rng.choice(n_main, n, p=cfg.main_service_shares)]
    age_mean = np.array([a[0] for a in cfg.service_age], float)[main]
    age_sd = np.array([a[1] for a in cfg.service_age], float)[main]
    age = np.clip(rng.normal(age_mean, age_sd), 18, 90).astype(np.float32)
    p_female = np.asarray(cfg.service_female, float)[main]
    sex = (rng.random(n) >= p_female).astype(np.int8)
    n_loc = len(cfg.location_weights)
    location = rng.choice(n_loc, n, p=cfg.location_weights).astype(np.int8)
    provider0 = staff.pick_active(rng, location, np.maximum(created, 0))
    left_day = staff.leave_day[provider0].astype(np.int32)
    provider1 = np.where(
        left_day < NEVER,
        staff.pick_active(rng, location, np.minimum(left_day, n_days), stayers_only=True),
        provider0,
    ).astype(np.int16)
    by_service = np.zeros(len(cfg.services))
    by_service[list(cfg.main_services)] = cfg.main_interval_days
    base_mu = by_service[main]
    mu_main = (base_mu * rng.lognormal(0, cfg.interval_sigma, n)).astype(np.float32)
    lo, hi = cfg.laser_series_sessions
    laser_k = rng.integers(lo, hi + 1, n).astype(np.int8)
    z = rng.normal(size=n)  # commitment
    e = rng.normal(size=(5, n))
    lo_b, hi_b = cfg.booking_hazard_range
    bmax = (lo_b + (hi_b - lo_b) * _sigmoid(0.5 * z + 0.8 * e[0])).astype(np.float32)
    s = cfg.churn_hazard_sigma
    h0 = cfg.churn_hazard_mean * np.exp(s * (-0.7 * z + 0.7 * e[1]) - s * s * 0.49)
    p_ns = _sigmoid(_logit(cfg.no_show_mean) - 0.6 * z + 0.5 * e[2])
    p_cx = _sigmoid(_logit(cfg.cancel_mean) - 0.4 * z + 0.5 * e[3])
    resp = np.exp(0.4 * z + 0.5 * e[4] - (0.16 + 0.25) / 2)
    base = np.array([_logit(p) for p in cfg.consent_base])
    slope = np.asarray(cfg.consent_age_slope)
    p_consent = _sigmoid(base[None, :] + slope[None, :] * ((age[:, None] - 50.0) / 15.0))
    consent = rng.random((n, 4)) < p_consent
    unknown = rng.random((n, 4)) < cfg.consent_unknown_share
    dnc = rng.random(n) < cfg.do_not_contact_share
    existing = created < 0
    init_mu = np.where(existing, mu_main, cfg.new_patient_interval).astype(np.float32)
    init_last = np.where(
        existing, -np.floor(rng.random(n) * 1.2 * mu_main), created - 30
    ).astype(np.int32)
    churned = existing & (rng.random(n) < cfg.existing_churned_share)
    reason = np.asarray([DRIFTED, MOVED, UNHAPPY], np.int8)[rng.choice(3, n, p=[0.6, 0.3, 0.1])]
    episodes = _episodes(rng, main, mu_main, existing, init_last, cfg)
    deaf = np.full(n, -1, np.int8)
    if cfg.deaf_channel_share > 0:  # drawn last and only when used: other draws unchanged
        has = rng.random(n) < cfg.deaf_channel_share
        deaf[has] = rng.integers(0, 4, int(has.sum()))
    return Population(
        created_day=created, age=age, sex=sex, location=location,
        provider0=provider0, provider1=provider1, left_day=left_day, main=main,
        mu_main=mu_main,
        laser_k=np.where(main == cfg.series_service, laser_k, 0).astype(np.int8),
        bmax=bmax, h0=h0.astype(np.float64), p_no_show=p_ns.astype(np.float32),
        p_cancel=p_cx.astype(np.float32), responsiveness=resp.astype(np.float32),
        consent=consent, consent_unknown=unknown, do_not_contact=dnc,
        init_last_day=episodes.pop("init_last"), init_mu=init_mu, init_churned=churned,
        init_reason=np.where(churned, reason, -1).astype(np.int8), deaf=deaf, **episodes,
    )


def course_bounds(cfg: SimConfig) -> tuple[np.ndarray, np.ndarray]:
    """Per service code: fewest and most visits of a course of care (0, 0 = no episodes)."""
    bounds = np.zeros((len(cfg.services), 2), np.int16)
    if cfg.course_visits:
        bounds[:] = np.asarray(cfg.course_visits, np.int16)
    return bounds[:, 0], bounds[:, 1]


def _episodes(rng: np.random.Generator, main: np.ndarray, mu_main: np.ndarray,
              existing: np.ndarray, init_last: np.ndarray, cfg: SimConfig) -> dict:
    """Episode-of-care attributes; no random draws for a practice without episodes (so an
    aesthetics clinic draws exactly what it always drew).

    An existing episodic patient is in a course at ``start`` (``in_course_share``: part of it
    done, the last visit within one interval) or idle since a course ended 1-4 years ago.
    """
    n = len(main)
    lo, hi = course_bounds(cfg)
    out = {"episode_h": np.zeros(n), "course_k0": np.zeros(n, np.int8),
           "course_done0": np.zeros(n, np.int8), "init_mode": np.full(n, CADENCE, np.int8),
           "init_last": init_last}
    episodic = lo[main] > 0
    if not episodic.any():
        return out
    s = cfg.episode_hazard_sigma
    out["episode_h"] = np.where(episodic, cfg.episode_hazard_mean
                                * rng.lognormal(-s * s / 2, s, n), 0.0)
    k = rng.integers(lo[main], hi[main] + 1).astype(np.int8)
    out["course_k0"] = np.where(episodic, k, 0).astype(np.int8)
    in_course = episodic & existing & (rng.random(n) < cfg.in_course_share)
    done = np.minimum(1 + np.floor(rng.random(n) * np.maximum(k - 1, 1)), k - 1)
    out["course_done0"] = np.where(in_course, done, 0).astype(np.int8)
    idle = episodic & existing & ~in_course
    out["init_mode"] = np.where(idle, IDLE, CADENCE).astype(np.int8)
    course_last = -np.floor(rng.random(n) * mu_main)
    idle_last = -rng.integers(365, 1500, n)
    out["init_last"] = np.where(in_course, course_last, np.where(idle, idle_last, init_last)
                                ).astype(np.int32)
    return out
