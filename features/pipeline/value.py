"""Value: what the patient has been worth, and what their next visit is likely to bring.

Why: the practice manager ranks win-back effort by money as well as by likelihood; serving
multiplies the return probability by ``expected_revenue_per_visit``.

As of T: only visits with ``visit_at < cutoff(T)`` (midnight after day T) count. Lifetime and
12-month revenue include fees collected on no-shows and cancellations (the contract allows
revenue on any status); revenue per visit uses completed visits only. When the export has no
revenue at all, every value column is missing (unknown, not zero).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.config import Settings
from features.export.tables import Tables
from features.pipeline.events import Events, at, prepare
from features.pipeline.grouping import last_rows, rate
from features.spec import family_columns, typed_frame


def build(tables: Tables, as_of: str | pd.Timestamp, settings: Settings) -> pd.DataFrame:
    """Value features of every patient of ``tables`` as of the end of day ``as_of``.

    Returns:
        Frame indexed by ``patient_id`` with ``revenue_lifetime``, ``revenue_12m`` (currency),
        ``revenue_per_visit`` (NaN without completed visits) and
        ``expected_revenue_per_visit``: the patient's own average revenue per completed visit
        shrunk toward the clinic's average for their last service (``revenue_prior_visits``
        pseudo-visits), the clinic's overall average when they have no completed visit.
    """
    return from_events(at(prepare(tables), as_of, settings.features.attribution_days), settings)


def from_events(ev: Events, settings: Settings) -> pd.DataFrame:
    """Value features from an as-of view (see :func:`build`)."""
    return typed_frame(columns(ev, settings), ev.index, "value")


def columns(ev: Events, settings: Settings) -> dict[str, np.ndarray]:
    """Value columns as arrays in patient order (see :func:`build`)."""
    n, v, c = ev.n, ev.visits, ev.completed
    if not ev.prepared.revenue_provided:
        return {name: np.full(n, np.nan) for name in family_columns("value")}
    revenue = np.nan_to_num(v.revenue)
    recent = v.day > ev.day - 365
    completed_revenue = np.nan_to_num(c.revenue)
    completed_sum = np.bincount(c.pid, weights=completed_revenue, minlength=n)
    completed_count = np.bincount(c.pid, minlength=n)
    out = {
        "revenue_lifetime": np.bincount(v.pid, weights=revenue, minlength=n),
        "revenue_12m": np.bincount(v.pid[recent], weights=revenue[recent], minlength=n),
        "revenue_per_visit": rate(completed_sum, completed_count),
        "expected_revenue_per_visit": _expected(ev, completed_sum, completed_count,
                                                completed_revenue, settings),
    }
    return out


def _expected(
    ev: Events,
    own_sum: np.ndarray,
    own_count: np.ndarray,
    completed_revenue: np.ndarray,
    settings: Settings,
) -> np.ndarray:
    """Own revenue per visit shrunk toward the clinic's average for the last service."""
    p, c = ev.prepared, ev.completed
    n_clinics, n_services = len(p.clinics), len(p.services) + 1
    clinic = p.clinic[c.pid]
    clinic_avg = rate(np.bincount(clinic, weights=completed_revenue, minlength=n_clinics),
                      np.bincount(clinic, minlength=n_clinics))
    key = clinic * n_services + c.service + 1
    service_avg = rate(
        np.bincount(key, weights=completed_revenue, minlength=n_clinics * n_services),
        np.bincount(key, minlength=n_clinics * n_services),
    )
    last = last_rows(c.pid)
    last_service = np.full(ev.n, -1, dtype=np.int64)
    last_service[c.pid[last]] = c.service[last]
    prior = service_avg[p.clinic * n_services + last_service + 1]
    prior = np.where(np.isnan(prior), clinic_avg[p.clinic], prior)
    k = settings.features.revenue_prior_visits
    with np.errstate(invalid="ignore"):
        return (own_sum + k * prior) / (own_count + k)
