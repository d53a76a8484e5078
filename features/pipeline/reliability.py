"""Reliability: how often the patient misses or cancels appointments.

Why: a patient who often no-shows is less likely to turn an invitation into a kept visit, and a
clinic may want to reach them differently. Raw rates on two or three appointments are noise,
so the rates are shrunk toward the clinic's rates known at T (empirical Bayes with
``reliability_prior_strength`` pseudo-appointments).

As of T: only appointments with ``visit_at < cutoff(T)`` (midnight after day T) and status
completed, no_show or cancelled count.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.config import Settings
from features.export.tables import Tables
from features.pipeline.events import Events, at, prepare
from features.pipeline.grouping import rate
from features.spec import typed_frame
from features.vocabulary import CANCELLED_CODE, COMPLETED_CODE, NO_SHOW_CODE


def build(tables: Tables, as_of: str | pd.Timestamp, settings: Settings) -> pd.DataFrame:
    """Reliability features of every patient of ``tables`` as of the end of day ``as_of``.

    Returns:
        Frame indexed by ``patient_id`` with ``appointments_lifetime``, ``noshow_count``,
        ``cancel_count`` and the smoothed ``noshow_rate`` and ``cancel_rate``
        (``(count + k * clinic_rate) / (appointments + k)``; the clinic rate alone for a
        patient without past appointments; NaN when the clinic has none either).
    """
    return from_events(at(prepare(tables), as_of, settings.features.attribution_days), settings)


def from_events(ev: Events, settings: Settings) -> pd.DataFrame:
    """Reliability features from an as-of view (see :func:`build`)."""
    return typed_frame(columns(ev, settings), ev.index, "reliability")


def columns(ev: Events, settings: Settings) -> dict[str, np.ndarray]:
    """Reliability columns as arrays in patient order (see :func:`build`)."""
    p, v, n = ev.prepared, ev.visits, ev.n
    k = settings.features.reliability_prior_strength
    past = np.isin(v.status, (COMPLETED_CODE, NO_SHOW_CODE, CANCELLED_CODE))
    appointments = np.bincount(v.pid[past], minlength=n)
    out: dict[str, np.ndarray] = {"appointments_lifetime": appointments}
    clinic_appointments = np.bincount(p.clinic, weights=appointments, minlength=len(p.clinics))
    for name, status in (("noshow", NO_SHOW_CODE), ("cancel", CANCELLED_CODE)):
        count = np.bincount(v.pid[v.status == status], minlength=n)
        clinic_rate = rate(np.bincount(p.clinic, weights=count, minlength=len(p.clinics)),
                           clinic_appointments)[p.clinic]
        out[f"{name}_count"] = count
        out[f"{name}_rate"] = (count + k * clinic_rate) / (appointments + k)
    return out
