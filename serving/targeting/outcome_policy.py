"""The contact policy on top of what came back: posted outcomes take effect at once.

The snapshot index folds the policy in when a snapshot loads; outcomes posted since then
(``POST /outcomes``) change it for the few patients they concern, without a re-score:

* a ``sent`` counts toward the spacing rule (no contact within
  ``policy.min_days_between_contacts`` days of the policy day) and toward the cap
  (``policy.max_contacts`` within ``policy.max_contacts_window_days``; sends after the
  snapshot's as-of day add to the snapshot's own count, earlier ones are already in it);
* an ``opted_out`` removes that channel for that patient (other channels stay);
* a ``booked`` takes the patient off lists until its ``appointment_at`` has passed (the
  policy day is after it), or, without one, until a later ``attended``, ``cancelled`` or
  ``no_show``; a ``cancelled`` (like those two) after it puts the patient back.

The policy day is the request's ``on`` date (the day the campaign will send). The overlay is
recomputed only when a clinic's outcomes or the policy day change; a request then costs a
dictionary lookup, and the adjusted arrays share everything with the snapshot index but the
channel bits.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading

import numpy as np
import pandas as pd

from features.config import Settings
from features.vocabulary import CHANNELS, VISIT_EVENT_TYPES, cutoff
from serving.targeting.index import SnapshotIndex
from serving.targeting.policy import contacts_window_column

POLICY_EVENT_TYPES: tuple[str, ...] = ("sent", "opted_out", *VISIT_EVENT_TYPES)
COLUMNS: tuple[str, ...] = ("patient_id", "type", "channel", "at", "appointment_at")
CACHE_SIZE = 32


def patient_bits(
    events: pd.DataFrame, on: dt.date, snapshot_as_of: dt.date, settings: Settings,
    snapshot_counts: pd.Series,
) -> tuple[pd.Index, np.ndarray, np.ndarray]:
    """What the outcomes change for each patient they concern, on policy day ``on``.

    Args:
        events: one clinic's policy events (columns ``COLUMNS``).
        snapshot_counts: the snapshot's contacts in the cap window, by patient id.

    Returns:
        ``(patient ids, blocked, removed channel bits)``: ``blocked`` is True where a rule
        keeps the patient off every list; bit i of ``removed`` is set when channel i of
        ``CHANNELS`` was opted out of.
    """
    policy = settings.policy
    day = pd.Timestamp(on)
    patients = pd.Index(pd.unique(events["patient_id"]))
    kind = events["type"]
    sends = events[kind.eq("sent")]
    last_send = sends.groupby("patient_id")["at"].max().reindex(patients)
    gap_days = (day - last_send.dt.normalize()).dt.days
    recent = gap_days.lt(policy.min_days_between_contacts).to_numpy(bool)
    window_start = day - pd.Timedelta(days=policy.max_contacts_window_days)
    late = sends[(sends["at"] >= cutoff(snapshot_as_of)) & (sends["at"] > window_start)]
    counted = late.groupby("patient_id").size().reindex(patients, fill_value=0)
    before = snapshot_counts.reindex(patients).fillna(0).to_numpy(float)
    capped = (counted.to_numpy(float) + before) >= policy.max_contacts
    booked = np.zeros(len(patients), bool)
    if not policy.include_booked:
        booked = _booked(events, patients, day)
    opted = events[kind.eq("opted_out")]
    codes = pd.Categorical(opted["channel"], categories=list(CHANNELS)).codes
    removed_each = np.where(codes >= 0, 1 << np.maximum(codes, 0), 0).astype(np.uint8)
    removed = (
        pd.Series(removed_each, index=opted["patient_id"].to_numpy())
        .groupby(level=0).agg(np.bitwise_or.reduce)
        .reindex(patients, fill_value=0).to_numpy(np.uint8)
    )
    return patients, recent | capped | booked, removed


def _booked(events: pd.DataFrame, patients: pd.Index, day: pd.Timestamp) -> np.ndarray:
    """Patients whose latest booking is still open on ``day``."""
    bookings = events[events["type"].eq("booked")].sort_values("at", kind="stable")
    latest = bookings.groupby("patient_id").tail(1).set_index("patient_id").reindex(patients)
    closing = events[events["type"].isin(VISIT_EVENT_TYPES[1:])]
    closed_at = closing.groupby("patient_id")["at"].max().reindex(patients)
    has_booking = latest["at"].notna()
    closed = closed_at.notna() & (closed_at >= latest["at"])
    pending = latest["appointment_at"].isna() | (latest["appointment_at"] >= day)
    return (has_booking & ~closed & pending).to_numpy(bool)


def adjusted_index(
    index: SnapshotIndex, clinic_id: str, patients: pd.Index, blocked: np.ndarray,
    removed: np.ndarray,
) -> SnapshotIndex:
    """A view of ``index`` whose channel bits of ``clinic_id`` honour the outcomes.

    Only ``channel_bits`` (global and per ordering) are copied; every other array is shared.
    Patients not in the clinic's snapshot are ignored.
    """
    entry = index.clinics.get(clinic_id)
    if entry is None or not len(patients):
        return index
    found = entry.position.reindex(patients).to_numpy(dtype=float)
    known = ~np.isnan(found)
    rows = entry.orders["probability"].rows[found[known].astype(np.int64)]
    new_bits = index.channel_bits[rows] & ~removed[known]
    new_bits[blocked[known]] = 0
    changed = new_bits != index.channel_bits[rows]
    if not changed.any():
        return index
    rows, new_bits = rows[changed], new_bits[changed]
    bits = index.channel_bits.copy()
    bits[rows] = new_bits
    orders = {}
    for name, arrays in entry.orders.items():
        sorter = np.argsort(arrays.rows, kind="stable")
        at = sorter[np.searchsorted(arrays.rows, rows, sorter=sorter)]
        ordered = arrays.channel_bits.copy()
        ordered[at] = new_bits
        orders[name] = dataclasses.replace(arrays, channel_bits=ordered)
    clinics = {**index.clinics, clinic_id: dataclasses.replace(entry, orders=orders)}
    return dataclasses.replace(index, channel_bits=bits, clinics=clinics)


class OutcomeOverlay:
    """Per-clinic policy events in memory, and the adjusted indexes they give (cached).

    Args:
        settings: the ``policy`` section.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._events: dict[str, list[pd.DataFrame]] = {}
        self._version: dict[str, int] = {}
        self._cache: dict[tuple, tuple[SnapshotIndex, SnapshotIndex]] = {}
        self._lock = threading.Lock()

    def add(self, events: pd.DataFrame, clinic_id: str | None = None) -> None:
        """Take in stored events (with ``clinic_id`` column, or all of ``clinic_id``)."""
        relevant = events[events["type"].isin(POLICY_EVENT_TYPES)]
        if not len(relevant):
            return
        groups = (
            [(clinic_id, relevant)] if clinic_id is not None
            else list(relevant.groupby("clinic_id", sort=False))
        )
        with self._lock:
            for clinic, frame in groups:
                self._events.setdefault(str(clinic), []).append(frame[list(COLUMNS)].copy())
                self._version[str(clinic)] = self._version.get(str(clinic), 0) + 1

    def events(self, clinic_id: str) -> pd.DataFrame:
        """The clinic's policy events so far (columns ``COLUMNS``)."""
        with self._lock:
            parts = self._events.get(clinic_id, [])
            if len(parts) > 1:
                parts[:] = [pd.concat(parts, ignore_index=True)]
            return parts[0] if parts else pd.DataFrame(columns=list(COLUMNS))

    def index_for(
        self, index: SnapshotIndex, clinic_id: str, on: dt.date, snapshot_as_of: dt.date
    ) -> SnapshotIndex:
        """``index`` with the clinic's outcomes applied on policy day ``on``."""
        version = self._version.get(clinic_id, 0)
        if version == 0:
            return index
        key = (id(index), clinic_id, on, version)
        cached = self._cache.get(key)
        if cached is not None and cached[0] is index:
            return cached[1]
        events = self.events(clinic_id)
        counts = _snapshot_counts(index, clinic_id, self.settings)
        patients, blocked, removed = patient_bits(events, on, snapshot_as_of, self.settings, counts)
        adjusted = adjusted_index(index, clinic_id, patients, blocked, removed)
        if len(self._cache) >= CACHE_SIZE:
            self._cache.clear()
        self._cache[key] = (index, adjusted)
        return adjusted


def _snapshot_counts(index: SnapshotIndex, clinic_id: str, settings: Settings) -> pd.Series:
    """The snapshot's contacts in the cap window for the clinic's patients, by patient id."""
    entry = index.clinics.get(clinic_id)
    column = contacts_window_column(settings)
    if entry is None or column not in index.frame.columns:
        return pd.Series(dtype=float)
    rows = entry.orders["probability"].rows
    values = pd.to_numeric(index.frame[column].iloc[rows], errors="coerce").to_numpy(float)
    return pd.Series(values, index=entry.position.index)
