"""Visit cadence: how long since the patient came, how often they come, what they come for.

Why: a single "no visit in 12 months" rule misses that a botox patient seen every 3-4 months
is overdue long before an annual patient. These features describe each patient's own rhythm
and how far they are behind it.

Everything is as of T: only visits with ``visit_at < cutoff(T)`` (midnight after day T) count,
and only completed ones (except ``has_booked_appointment``, which looks at appointments after
T that were booked before the cutoff). Gaps are measured between distinct visit days.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.config import FeatureConfig, Settings
from features.export.tables import Tables
from features.pipeline.events import Events, Prepared, VisitLog, at, prepare
from features.pipeline.grouping import first_rows, group_median, labels_at, last_rows, scatter
from features.spec import typed_frame
from features.vocabulary import SCHEDULED_CODE

WINDOWS_DAYS: dict[str, int] = {"visits_6m": 182, "visits_12m": 365, "visits_24m": 730}


def build(tables: Tables, as_of: str | pd.Timestamp, settings: Settings) -> pd.DataFrame:
    """Cadence features of every patient of ``tables`` as of the end of day ``as_of``.

    Returns:
        Frame indexed by ``patient_id`` with the cadence columns of ``features.spec``:
        ``days_since_last_visit``, ``visits_6m/12m/24m/lifetime``, ``tenure_days``,
        ``gap_median_days``, ``gap_mean_days``, ``gap_std_days``, ``expected_interval_days``,
        ``overdue_ratio``, ``days_overdue``, ``last_service``, ``main_service``,
        ``main_service_share``, ``distinct_services``, ``last_provider_id``,
        ``last_provider_active``, ``location_id``, ``has_booked_appointment``. Patients
        without a completed visit before the cutoff get missing values (counts 0).
    """
    return from_events(at(prepare(tables), as_of, settings.features.attribution_days), settings)


def from_events(ev: Events, settings: Settings) -> pd.DataFrame:
    """Cadence features from an as-of view (see :func:`build`)."""
    return typed_frame(columns(ev, settings), ev.index, "cadence")


def columns(ev: Events, settings: Settings) -> dict[str, np.ndarray]:
    """Cadence columns as arrays in patient order (see :func:`build`)."""
    cfg = settings.features
    p, c, n = ev.prepared, ev.completed, ev.n
    last = last_rows(c.pid)
    who = c.pid[last]
    out: dict[str, np.ndarray] = {}
    days_since = scatter(n, who, ev.day - c.day[last])
    out["days_since_last_visit"] = days_since
    for name, days in WINDOWS_DAYS.items():
        recent = c.day > ev.day - days
        out[name] = np.bincount(c.pid[recent], minlength=n)
    out["visits_lifetime"] = np.bincount(c.pid, minlength=n)
    first = first_rows(c.pid)
    out["tenure_days"] = scatter(n, c.pid[first], ev.day - c.day[first])

    gap_pid, gaps, gap_service = _gaps(ev)
    n_gaps = np.bincount(gap_pid, minlength=n)
    total = np.bincount(gap_pid, weights=gaps, minlength=n)
    squares = np.bincount(gap_pid, weights=gaps.astype(np.float64) ** 2, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n_gaps > 0, total / np.maximum(n_gaps, 1), np.nan)
        var = (squares - n_gaps * mean**2) / (n_gaps - 1)
    median = group_median(gap_pid, gaps, n)
    out["gap_median_days"] = median
    out["gap_mean_days"] = mean
    out["gap_std_days"] = np.where(n_gaps > 1, np.sqrt(np.clip(var, 0, None)), np.nan)

    prior = _interval_prior(ev, gap_pid, gaps, gap_service, c.service[last], who, cfg)
    k = cfg.interval_prior_visits
    own = np.where(n_gaps > 0, median, 0.0)
    expected = (n_gaps * own + k * prior) / (n_gaps + k)
    out["expected_interval_days"] = expected
    with np.errstate(invalid="ignore", divide="ignore"):
        out["overdue_ratio"] = days_since / expected
    out["days_overdue"] = days_since - expected

    out["last_service"] = scatter(n, who, labels_at(p.services, c.service[last]), None)
    main, share, distinct = _service_mix(c, n, len(p.services))
    out["main_service"] = labels_at(p.services, main)
    out["main_service_share"] = share
    out["distinct_services"] = distinct
    last_provider = np.full(n, -1, dtype=np.int64)
    last_provider[who] = c.provider[last]
    out["last_provider_id"] = labels_at(p.providers, last_provider)
    out["last_provider_active"] = _provider_active(ev, last_provider, cfg.provider_active_days)
    out["location_id"] = _location(p, c, who, last)
    out["has_booked_appointment"] = booked_at_t(p, ev)
    return out


def _gaps(ev: Events) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Days between consecutive distinct visit days: (patient, gap, service of the earlier day).

    When several completed visits share a day, the day's service is the last one in the
    sorted order (deterministic under shuffling).
    """
    c = ev.completed
    if len(c) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    day_end = np.r_[(c.pid[1:] != c.pid[:-1]) | (c.day[1:] != c.day[:-1]), True]
    pid, day, service = c.pid[day_end], c.day[day_end], c.service[day_end]
    same = pid[1:] == pid[:-1]
    return pid[1:][same], (day[1:] - day[:-1])[same], service[:-1][same]


def _interval_prior(
    ev: Events,
    gap_pid: np.ndarray,
    gaps: np.ndarray,
    gap_service: np.ndarray,
    last_service: np.ndarray,
    who: np.ndarray,
    cfg: FeatureConfig,
) -> np.ndarray:
    """The clinic's typical gap after the patient's last service, known at T.

    Falls back to the clinic's typical gap over all services, then to
    ``default_interval_days``. NaN for patients without a completed visit.
    """
    p = ev.prepared
    n_clinics, n_services = len(p.clinics), len(p.services) + 1
    clinic_of_gap = p.clinic[gap_pid]
    by_clinic = group_median(clinic_of_gap, gaps, n_clinics)
    by_service = group_median(clinic_of_gap * n_services + gap_service + 1, gaps,
                              n_clinics * n_services)
    key = p.clinic[who] * n_services + last_service + 1
    value = by_service[key]
    value = np.where(np.isnan(value), by_clinic[p.clinic[who]], value)
    value = np.where(np.isnan(value), cfg.default_interval_days, value)
    return scatter(ev.n, who, value)


def _service_mix(c: VisitLog, n: int, n_services: int) -> tuple[np.ndarray, ...]:
    """Main service code (ties: first in sorted order), its share, and distinct services."""
    main = np.full(n, -1, dtype=np.int64)
    share = np.full(n, np.nan)
    has = c.service >= 0
    if not has.any():
        return main, share, np.zeros(n, dtype=np.int64)
    keys = c.pid[has].astype(np.int64) * n_services + c.service[has]
    if n * n_services <= 4 * len(keys) + 100_000:
        per_key = np.bincount(keys, minlength=n * n_services)
        pairs = np.flatnonzero(per_key)
        counts = per_key[pairs]
    else:
        pairs, counts = np.unique(keys, return_counts=True)
    pid, service = pairs // n_services, pairs % n_services
    distinct = np.bincount(pid, minlength=n)
    order = np.lexsort((service, -counts, pid))
    top = order[first_rows(pid[order])]
    main[pid[top]] = service[top]
    share[pid[top]] = counts[top] / np.bincount(pid, weights=counts, minlength=n)[pid[top]]
    return main, share, distinct


def _provider_active(ev: Events, last_provider: np.ndarray, days: int) -> np.ndarray:
    """1.0 if the patient's last provider completed a visit in the clinic within ``days``."""
    p, c = ev.prepared, ev.completed
    n_prov = len(p.providers)
    out = np.where(last_provider >= 0, 0.0, np.nan)
    if n_prov == 0:
        return out
    recent = (c.day > ev.day - days) & (c.provider >= 0)
    seen = np.bincount(p.clinic[c.pid[recent]] * n_prov + c.provider[recent],
                       minlength=len(p.clinics) * n_prov) > 0
    has = last_provider >= 0
    out[has] = seen[p.clinic[has] * n_prov + last_provider[has]].astype(np.float64)
    return out


def _location(p: Prepared, c: VisitLog, who: np.ndarray, last: np.ndarray) -> np.ndarray:
    """The patient's home location, else the location of the last completed visit."""
    home = p.patients["location_id"].to_numpy(dtype=object)
    last_visit = scatter(len(home), who, labels_at(p.locations, c.location[last]), None)
    return np.where(pd.isna(home), last_visit, home)


def booked_at_t(p: Prepared, ev: Events) -> np.ndarray:
    """Whether a future appointment was already booked at T, per patient.

    A visit counts when ``visit_at >= cutoff(T)`` and ``booked_at < cutoff(T)``, whatever its
    later status (a later no-show had not happened yet at T). Without ``booked_at``, a
    ``scheduled`` visit after T counts only when T is on or after the export date.
    """
    v = p.visits
    end = np.datetime64(ev.cutoff.to_datetime64(), "ns")
    future = p.visit_at >= end
    booked = future & (p.booked_at < end)
    if ev.as_of >= p.export_date.normalize():
        booked |= future & np.isnat(p.booked_at) & (v.status == SCHEDULED_CODE)
    return np.bincount(v.pid[booked], minlength=p.n) > 0
