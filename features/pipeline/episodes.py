"""Episodes of care and regularity: is the patient mid-course, done with a course, or on a
steady recall?

Why: "days since the last visit" means opposite things for a physiotherapy patient who just
finished a course of care (not lapsing: they will not come until a new problem), one who
stopped half-way (lapsing), and a dental patient on a six-month recall (due when the six
months are up). These features describe the patient's visits as runs ("episodes") separated
by breaks, and compare the current run with the runs the clinic has seen end for the same
service - nothing here is specific to one practice type.

An episode break is a gap between distinct visit days longer than
``episode_break_factor`` x the patient's own median gap (and at least
``episode_min_break_days``). An episode is *finished* at T when a later one started, or when
more than the patient's break threshold has passed since its last visit. Everything is as of
T: only completed visits with ``visit_at < cutoff(T)`` count.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.config import Settings
from features.export.tables import Tables
from features.pipeline.events import Events, at, prepare
from features.pipeline.grouping import group_median, last_rows, scatter
from features.spec import typed_frame


def build(tables: Tables, as_of: str | pd.Timestamp, settings: Settings) -> pd.DataFrame:
    """Episode features of every patient of ``tables`` as of the end of day ``as_of``.

    Returns:
        Frame indexed by ``patient_id`` with ``episode_visits``, ``episodes_lifetime``,
        ``episode_interval_days``, ``course_length_typical``, ``episode_progress``,
        ``episode_complete`` and ``gap_cv``; missing (counts 0) without a completed visit.
    """
    ev = at(prepare(tables), as_of, settings.features.attribution_days)
    return typed_frame(columns(ev, settings), ev.index, "episodes")


def _visit_days(ev: Events) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct completed visit days (patient, day, service of the day's last visit)."""
    c = ev.completed
    if len(c) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    day_end = np.r_[(c.pid[1:] != c.pid[:-1]) | (c.day[1:] != c.day[:-1]), True]
    return c.pid[day_end], c.day[day_end], c.service[day_end]


def columns(ev: Events, settings: Settings) -> dict[str, np.ndarray]:
    """Episode columns as arrays in patient order (see :func:`build`)."""
    cfg = settings.features
    p, n = ev.prepared, ev.n
    pid, day, service = _visit_days(ev)
    same = np.r_[False, pid[1:] == pid[:-1]][: len(pid)]
    gap = np.r_[0, np.diff(day)][: len(day)].astype(np.int64)
    gap_pid, gaps = pid[same], gap[same]
    median = group_median(gap_pid, gaps, n)
    threshold = np.maximum(cfg.episode_break_factor * np.nan_to_num(median, nan=0.0),
                           cfg.episode_min_break_days)
    starts = ~same | (gap > threshold[pid])
    episode = np.cumsum(starts) - 1
    length = np.bincount(episode, minlength=int(episode[-1]) + 1 if len(episode) else 0)
    last = last_rows(pid)
    who = pid[last]
    current = episode[last]
    out: dict[str, np.ndarray] = {}
    out["episode_visits"] = scatter(n, who, length[current].astype(float))
    out["episodes_lifetime"] = np.bincount(pid[starts], minlength=n)

    inside = same & ~starts & (episode == scatter(n, who, current, -1)[pid])
    out["episode_interval_days"] = group_median(pid[inside], gap[inside], n)

    ep_last = last_rows(episode)  # last visit day of each episode
    ep_pid, ep_day, ep_service = pid[ep_last], day[ep_last], service[ep_last]
    later = np.r_[ep_pid[1:] == ep_pid[:-1], False]
    finished = later | (ev.day - ep_day > threshold[ep_pid])
    typical = _typical_course(ev, ep_pid[finished], ep_service[finished], length[finished])
    key_service = scatter(n, who, service[last], -1).astype(np.int64)
    course = typical(p.clinic, key_service)
    course = np.where(np.isnan(out["episode_visits"]), np.nan, course)
    out["course_length_typical"] = course
    with np.errstate(invalid="ignore", divide="ignore"):
        out["episode_progress"] = out["episode_visits"] / course
    out["episode_complete"] = np.where(np.isnan(out["episode_progress"]), np.nan,
                                       (out["episode_progress"] >= 1.0).astype(float))
    n_gaps = np.bincount(gap_pid, minlength=n)
    total = np.bincount(gap_pid, weights=gaps, minlength=n)
    squares = np.bincount(gap_pid, weights=gaps.astype(np.float64) ** 2, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / n_gaps
        std = np.sqrt(np.clip((squares - n_gaps * mean**2) / (n_gaps - 1), 0, None))
        out["gap_cv"] = np.where((n_gaps > 1) & (mean > 0), std / mean, np.nan)
    return out


def _typical_course(ev: Events, ep_pid: np.ndarray, ep_service: np.ndarray,
                    ep_length: np.ndarray):
    """The clinic's median length (visit days) of finished episodes ending in each service.

    Returns a function ``(clinic codes, service codes) -> median`` over patients, falling
    back to the clinic's median over all finished episodes (NaN when it has none).
    """
    p = ev.prepared
    n_clinics, n_services = len(p.clinics), len(p.services) + 1
    clinic = p.clinic[ep_pid]
    by_clinic = group_median(clinic, ep_length, n_clinics)
    by_service = group_median(clinic * n_services + ep_service + 1, ep_length,
                              n_clinics * n_services)

    def lookup(clinic_codes: np.ndarray, service_codes: np.ndarray) -> np.ndarray:
        value = by_service[clinic_codes * n_services + service_codes + 1]
        return np.where(np.isnan(value), by_clinic[clinic_codes], value)

    return lookup
