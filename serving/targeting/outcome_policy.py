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
  ``no_show``; a ``cancelled`` (like those two) after it puts the patient back;
* a member of a running outreach sequence is kept off other lists, and one whose sequence
  ended without a booking rests ``policy.sequences.rest_days`` after its last attempt: the
  caller passes those members with the last day they are kept off (``resting``, from
  :func:`serving.targeting.sequences.resting_until`).

The policy day is the request's ``on`` date (the day the campaign will send). The overlay keeps
a per-patient summary (latest send, opt-outs, latest booking, latest close) plus every send's
time, and is recomputed only when a clinic's outcomes or the policy day change; a request then costs a
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


def summarise(events: pd.DataFrame) -> pd.DataFrame:
    """Per patient, what the policy needs of ``events`` (columns ``COLUMNS``).

    Returns:
        Frame indexed by ``patient_id`` with ``last_send``, ``opted`` (bit i: channel i of
        ``CHANNELS`` opted out of), ``booked_at`` and ``appointment_at`` of the latest
        ``booked``, and ``closed_at`` (latest ``attended``, ``cancelled`` or ``no_show``).
    """
    kind = events["type"]
    pid = events["patient_id"]
    patients = pd.Index(pd.unique(pid), name="patient_id")
    last_send = events["at"].where(kind.eq("sent")).groupby(pid).max()
    codes = pd.Categorical(events["channel"].where(kind.eq("opted_out")),
                           categories=list(CHANNELS)).codes
    bit = np.where(codes >= 0, 1 << np.maximum(codes, 0), 0).astype(np.uint8)
    opted = pd.Series(bit, index=pid.to_numpy()).groupby(level=0).agg(np.bitwise_or.reduce)
    bookings = events[kind.eq("booked")].sort_values("at", kind="stable")
    latest = bookings.groupby("patient_id").tail(1).set_index("patient_id")
    closed = events["at"].where(kind.isin(VISIT_EVENT_TYPES[1:])).groupby(pid).max()
    return pd.DataFrame({
        "last_send": last_send.reindex(patients),
        "opted": opted.reindex(patients, fill_value=0).astype(np.uint8),
        "booked_at": latest["at"].reindex(patients),
        "appointment_at": latest["appointment_at"].reindex(patients),
        "closed_at": closed.reindex(patients),
    }, index=patients)


def combine(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """Two summaries as one: the latest of each time, the union of opt-outs, the later booking."""
    if not len(old):
        return new
    patients = old.index.union(new.index)
    a, b = old.reindex(patients), new.reindex(patients)
    later = b["booked_at"].notna() & ~(a["booked_at"] > b["booked_at"])
    return pd.DataFrame({
        "last_send": a["last_send"].where(~(b["last_send"] > a["last_send"]) & a["last_send"].notna(),
                                          b["last_send"]),
        "opted": (a["opted"].fillna(0).astype(np.uint8) | b["opted"].fillna(0).astype(np.uint8)),
        "booked_at": b["booked_at"].where(later, a["booked_at"]),
        "appointment_at": b["appointment_at"].where(later, a["appointment_at"]),
        "closed_at": a["closed_at"].where(~(b["closed_at"] > a["closed_at"]) & a["closed_at"].notna(),
                                          b["closed_at"]),
    }, index=patients)


def patient_bits(
    summary: pd.DataFrame, send_pid: np.ndarray, send_at: np.ndarray, on: dt.date,
    snapshot_as_of: dt.date, settings: Settings, snapshot_counts: pd.Series,
) -> tuple[pd.Index, np.ndarray, np.ndarray]:
    """What the outcomes change for each patient they concern, on policy day ``on``.

    Args:
        summary: per-patient summary (:func:`summarise`).
        send_pid, send_at: every posted send's patient and time (for the cap's window).
        snapshot_counts: the snapshot's contacts in the cap window, by patient id.

    Returns:
        ``(patient ids, blocked, removed channel bits)``: ``blocked`` is True where a rule
        keeps the patient off every list; bit i of ``removed`` is set when channel i of
        ``CHANNELS`` was opted out of.
    """
    policy = settings.policy
    day = pd.Timestamp(on)
    patients = summary.index
    gap_days = (day - summary["last_send"].dt.normalize()).dt.days
    recent = gap_days.lt(policy.min_days_between_contacts).to_numpy(bool)
    window_start = np.datetime64(day - pd.Timedelta(days=policy.max_contacts_window_days))
    late = (send_at >= np.datetime64(cutoff(snapshot_as_of))) & (send_at > window_start)
    counted = pd.Series(send_pid[late]).value_counts().reindex(patients, fill_value=0)
    before = snapshot_counts.reindex(patients).fillna(0).to_numpy(float)
    capped = (counted.to_numpy(float) + before) >= policy.max_contacts
    booked = np.zeros(len(patients), bool)
    if not policy.include_booked:
        closed = summary["closed_at"].notna() & (summary["closed_at"] >= summary["booked_at"])
        pending = summary["appointment_at"].isna() | (summary["appointment_at"] >= day)
        booked = (summary["booked_at"].notna() & ~closed & pending).to_numpy(bool)
    return patients, recent | capped | booked, summary["opted"].to_numpy(np.uint8)


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


@dataclasses.dataclass
class ClinicOutcomes:
    """One clinic's outcomes as the policy needs them: a summary and every send's time."""

    summary: pd.DataFrame
    send_pid: np.ndarray
    send_at: np.ndarray
    version: int = 0
    pending: list[pd.DataFrame] = dataclasses.field(default_factory=list)

    def fold(self) -> None:
        """Fold the batches added since the last request into the summary."""
        if not self.pending:
            return
        frame = pd.concat(self.pending, ignore_index=True)
        self.pending = []
        sends = frame[frame["type"].eq("sent")]
        self.summary = combine(self.summary, summarise(frame))
        self.send_pid = np.concatenate([self.send_pid, sends["patient_id"].to_numpy(object)])
        self.send_at = np.concatenate(
            [self.send_at, sends["at"].to_numpy(dtype="datetime64[ns]")]
        )


class OutcomeOverlay:
    """Per-clinic outcome summaries in memory, and the adjusted indexes they give (cached).

    Adding a batch only queues it (the write path stays cheap); the next request folds the
    queued batches into the clinic's summary (work in proportion to the patients concerned,
    not to every event stored) and recomputes the clinic's adjusted bits once.

    Args:
        settings: the ``policy`` section.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._clinics: dict[str, ClinicOutcomes] = {}
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
        for clinic, frame in groups:
            with self._lock:
                outcomes = self._clinics.get(str(clinic))
                if outcomes is None:
                    outcomes = ClinicOutcomes(
                        summarise(frame[list(COLUMNS)].iloc[:0]), np.array([], dtype=object),
                        np.array([], dtype="datetime64[ns]"),
                    )
                    self._clinics[str(clinic)] = outcomes
                outcomes.pending.append(frame[list(COLUMNS)].copy())
                outcomes.version += 1

    def fold_all(self) -> None:
        """Fold every queued batch now (at service start, so no request pays for the history)."""
        with self._lock:
            for outcomes in self._clinics.values():
                outcomes.fold()

    def index_for(
        self, index: SnapshotIndex, clinic_id: str, on: dt.date, snapshot_as_of: dt.date,
        resting: pd.Series | None = None, resting_key: object = None,
    ) -> SnapshotIndex:
        """``index`` with the clinic's outcomes applied on policy day ``on``.

        Args:
            resting: members kept off lists by outreach sequences: the last day
                (datetime64) each is kept off, indexed by patient id; None: none.
            resting_key: identifies ``resting`` for the cache (changes when it does).
        """
        outcomes = self._clinics.get(clinic_id)
        if outcomes is None and (resting is None or not len(resting)):
            return index
        version = None if outcomes is None else outcomes.version
        key = (id(index), clinic_id, on, version, resting_key)
        cached = self._cache.get(key)
        if cached is not None and cached[0] is index:
            return cached[1]
        if outcomes is not None:
            with self._lock:
                outcomes.fold()
            counts = _snapshot_counts(index, clinic_id, self.settings)
            patients, blocked, removed = patient_bits(
                outcomes.summary, outcomes.send_pid, outcomes.send_at, on, snapshot_as_of,
                self.settings, counts,
            )
        else:
            patients, blocked, removed = pd.Index([], dtype=object), np.zeros(0, bool), \
                np.zeros(0, np.uint8)
        if resting is not None and len(resting):
            patients, blocked, removed = with_resting(patients, blocked, removed, resting, on)
        adjusted = adjusted_index(index, clinic_id, patients, blocked, removed)
        if len(self._cache) >= CACHE_SIZE:
            self._cache.clear()
        self._cache[key] = (index, adjusted)
        return adjusted


    def recent_sends(
        self, clinic_id: str, patient_ids: pd.Index, on: dt.date, before: pd.Timestamp,
        snapshot_as_of: dt.date,
    ) -> np.ndarray:
        """Posted sends per patient that the snapshot does not count yet, in the cap window.

        Sends after the snapshot's as-of day, within ``policy.max_contacts_window_days``
        before day ``on``, and before ``before`` (a campaign's start: its own attempts are
        counted by the sequence itself).
        """
        outcomes = self._clinics.get(clinic_id)
        if outcomes is None:
            return np.zeros(len(patient_ids))
        with self._lock:
            outcomes.fold()
        window = pd.Timedelta(days=self.settings.policy.max_contacts_window_days)
        at = outcomes.send_at
        late = ((at >= np.datetime64(cutoff(snapshot_as_of))) & (at < np.datetime64(before))
                & (at > np.datetime64(pd.Timestamp(on) - window)))
        counted = pd.Series(outcomes.send_pid[late]).value_counts()
        return counted.reindex(patient_ids, fill_value=0).to_numpy(float)

    def opted_out(self, clinic_id: str, patient_ids: pd.Index) -> np.ndarray:
        """(n, C) channels each patient opted out of in a posted outcome (any campaign)."""
        outcomes = self._clinics.get(clinic_id)
        if outcomes is None:
            return np.zeros((len(patient_ids), len(CHANNELS)), bool)
        with self._lock:
            outcomes.fold()
        bits = outcomes.summary["opted"].reindex(patient_ids, fill_value=0).to_numpy(np.uint8)
        return ((bits[:, None] >> np.arange(len(CHANNELS))) & 1).astype(bool)


def with_resting(
    patients: pd.Index, blocked: np.ndarray, removed: np.ndarray, resting: pd.Series,
    on: dt.date,
) -> tuple[pd.Index, np.ndarray, np.ndarray]:
    """The outcome bits with the sequence members kept off lists on day ``on`` added.

    ``resting`` holds the last day each member is kept off; a patient in both stays blocked
    by either rule and keeps its opt-outs.
    """
    day = np.datetime64(pd.Timestamp(on).date(), "D")
    until = resting.to_numpy("M8[D]")
    kept_off = pd.Index(resting.index[until >= day], dtype=object)
    union = patients.union(kept_off) if len(patients) else kept_off.unique()
    out_blocked = pd.Series(blocked, index=patients).reindex(union, fill_value=False)
    out_blocked = out_blocked.to_numpy(bool) | union.isin(kept_off)
    out_removed = pd.Series(removed, index=patients).reindex(union, fill_value=0)
    return union, out_blocked, out_removed.to_numpy(np.uint8)


def _snapshot_counts(index: SnapshotIndex, clinic_id: str, settings: Settings) -> pd.Series:
    """The snapshot's contacts in the cap window for the clinic's patients, by patient id."""
    entry = index.clinics.get(clinic_id)
    column = contacts_window_column(settings)
    if entry is None or column not in index.frame.columns:
        return pd.Series(dtype=float)
    rows = entry.orders["probability"].rows
    values = pd.to_numeric(index.frame[column].iloc[rows], errors="coerce").to_numpy(float)
    return pd.Series(values, index=entry.position.index)
