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

The policy day is the request's ``on`` date (the day the campaign will send).

How it stays cheap: a stored batch is folded into the clinic's per-patient state at once
(:class:`~serving.targeting.outcome_state.ClinicOutcomes`, work in proportion to the batch).
Per snapshot index, clinic and policy day the overlay keeps one adjusted view: the first
request of a day computes the verdict of every patient with outcomes (numpy over integer
patient numbers); after that, each batch redoes the verdicts of the patients it touched only,
and the view's channel bits are patched on a copy (a request in flight keeps its view). The
sequence members kept off are a last layer over that view, redone when they change. Between
changes a request costs a dictionary lookup.
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
from serving.targeting.outcome_state import ClinicOutcomes
from serving.targeting.policy import SEQUENCE_RULE, contacts_window_column

POLICY_EVENT_TYPES: tuple[str, ...] = ("sent", "opted_out", *VISIT_EVENT_TYPES)
COLUMNS: tuple[str, ...] = ("patient_id", "type", "channel", "at", "appointment_at")
CACHE_SIZE = 8  # adjusted views kept (each holds its own channel bits)
TOUCHED_LOG = 256  # batches remembered per clinic for patching views


@dataclasses.dataclass(frozen=True)
class ClinicTables:
    """What a view needs of one clinic's entry in one snapshot index (computed once)."""

    prob_rows: np.ndarray  # snapshot row of each position of the ``probability`` ordering
    to_order: dict[str, np.ndarray]  # per ordering: position of each probability position
    counts: np.ndarray  # the snapshot's contacts in the cap window, per position


@dataclasses.dataclass
class _View:
    """One adjusted index of a clinic on a day, and what it reflects."""

    index: SnapshotIndex  # the plain snapshot index it was made from
    version: int  # the clinic's outcomes version it reflects
    outcome: SnapshotIndex  # the index with the outcomes applied
    positions: np.ndarray  # per outcome patient number: position in the clinic (-1: none)
    resting_key: object = None
    final: SnapshotIndex | None = None  # with the resting members kept off


def clinic_tables(index: SnapshotIndex, clinic_id: str, settings: Settings) -> ClinicTables:
    """Row lookups of a clinic's orderings and its cap counts."""
    entry = index.clinics[clinic_id]
    prob_rows = entry.orders["probability"].rows
    to_order = {}
    for name, arrays in entry.orders.items():
        sorter = np.argsort(arrays.rows, kind="stable")
        to_order[name] = sorter[np.searchsorted(arrays.rows, prob_rows, sorter=sorter)]
    column = contacts_window_column(settings)
    counts = np.zeros(len(prob_rows))
    if column in index.frame.columns:
        values = pd.to_numeric(index.frame[column].iloc[prob_rows], errors="coerce")
        counts = np.nan_to_num(values.to_numpy(float), nan=0.0)
    return ClinicTables(prob_rows, to_order, counts)


def patched_index(index: SnapshotIndex, base: SnapshotIndex, clinic_id: str,
                  tables: ClinicTables, positions: np.ndarray, rules: dict[str, np.ndarray],
                  removed: np.ndarray, from_plain: bool = True) -> SnapshotIndex:
    """``base`` with the policy of the clinic's ``positions`` redone.

    Channel bits, the rule flags (``blocks``) and the permitted channels (``permissions``) of
    those patients are recomputed from the plain ``index`` (``from_plain``: the outcome
    layer, whose verdicts are whole) or added on top of ``base`` (the sequence layer): the
    ``rules`` they break are set, the ``removed`` channel bits taken away, and no channel
    remains where a rule blocks. Arrays are copied, never changed in place; every other
    array is shared.
    """
    if not len(positions):
        return base
    rows = tables.prob_rows[positions]
    source = index if from_plain else base
    blocked = np.logical_or.reduce(list(rules.values()))
    new_bits = source.channel_bits[rows] & ~removed
    new_bits[blocked] = 0
    entry = base.clinics[clinic_id]
    bits = base.channel_bits.copy()
    bits[rows] = new_bits
    orders = {}
    for name, arrays in entry.orders.items():
        ordered = arrays.channel_bits.copy()
        ordered[tables.to_order[name][positions]] = new_bits
        orders[name] = dataclasses.replace(arrays, channel_bits=ordered)
    flags = {}
    for rule in base.blocks.columns:
        column = base.blocks[rule].to_numpy(dtype=bool).copy()
        if rule in rules:
            column[rows] = source.blocks[rule].to_numpy(dtype=bool)[rows] | rules[rule]
        elif from_plain:
            column[rows] = index.blocks[rule].to_numpy(dtype=bool)[rows]
        flags[rule] = column
    permitted = base.permissions.to_numpy(dtype=bool).copy()
    taken = ((removed[:, None] >> np.arange(len(CHANNELS))) & 1).astype(bool)
    permitted[rows] = source.permissions.to_numpy(dtype=bool)[rows] & ~taken
    clinics = {**base.clinics, clinic_id: dataclasses.replace(entry, orders=orders)}
    return dataclasses.replace(
        base, channel_bits=bits, clinics=clinics,
        blocks=pd.DataFrame(flags, index=base.blocks.index),
        permissions=pd.DataFrame(permitted, index=base.permissions.index,
                                 columns=base.permissions.columns))


def kept_off_ids(resting: pd.Series, on: dt.date) -> pd.Index:
    """The sequence members kept off lists on day ``on`` (``resting``: last day, by id)."""
    day = np.datetime64(pd.Timestamp(on).date(), "D")
    until = resting.to_numpy("M8[D]")
    return pd.Index(resting.index[until >= day], dtype=object).unique()


class OutcomeOverlay:
    """Per-clinic outcome state in memory, and the adjusted indexes it gives (cached).

    Args:
        settings: the ``policy`` section.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._clinics: dict[str, ClinicOutcomes] = {}
        self._touched: dict[str, list[tuple[int, np.ndarray]]] = {}
        self._views: dict[tuple, _View] = {}
        self._tables: dict[tuple, tuple[SnapshotIndex, ClinicTables]] = {}
        self._lock = threading.RLock()

    def add(self, events: pd.DataFrame, clinic_id: str | None = None) -> None:
        """Fold stored events in (with a ``clinic_id`` column, or all of ``clinic_id``)."""
        relevant = events[events["type"].isin(POLICY_EVENT_TYPES).to_numpy(bool)]
        if not len(relevant):
            return
        groups = ([(clinic_id, relevant)] if clinic_id is not None
                  else list(relevant.groupby("clinic_id", sort=False)))
        with self._lock:
            for clinic, frame in groups:
                outcomes = self._clinics.setdefault(str(clinic), ClinicOutcomes())
                touched = outcomes.fold(frame[list(COLUMNS)])
                log = self._touched.setdefault(str(clinic), [])
                log.append((outcomes.version, touched))
                del log[:-TOUCHED_LOG]

    def _clinic_tables(self, index: SnapshotIndex, clinic_id: str) -> ClinicTables:
        key = (id(index), clinic_id)
        cached = self._tables.get(key)
        if cached is None or cached[0] is not index:
            if len(self._tables) >= CACHE_SIZE:
                self._tables.clear()
            cached = self._tables[key] = (index, clinic_tables(index, clinic_id, self.settings))
        return cached[1]

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
        has_resting = resting is not None and len(resting) > 0
        if (outcomes is None and not has_resting) or clinic_id not in index.clinics:
            return index
        with self._lock:
            view = self._view(index, clinic_id, on, snapshot_as_of, outcomes)
            if not has_resting:
                return view.outcome
            if view.final is None or view.resting_key != resting_key:
                view.final = self._rest(index, view.outcome, clinic_id, resting, on)
                view.resting_key = resting_key
            return view.final

    def _view(self, index: SnapshotIndex, clinic_id: str, on: dt.date,
              snapshot_as_of: dt.date, outcomes: ClinicOutcomes | None) -> _View:
        """The clinic's outcome view on day ``on``, brought up to the latest batch."""
        key = (id(index), clinic_id, on, snapshot_as_of)
        view = self._views.get(key)
        version = 0 if outcomes is None else outcomes.version
        if view is not None and view.index is index and view.version == version:
            return view
        tables = self._clinic_tables(index, clinic_id)
        if outcomes is None:
            view = _View(index, 0, index, np.zeros(0, np.int64))
        elif view is None or view.index is not index or not self._can_patch(clinic_id, view):
            numbers = np.arange(outcomes.size)
            positions = self._positions(index, clinic_id, outcomes, np.zeros(0, np.int64))
            view = _View(index, version, self._apply(index, index, clinic_id, tables, outcomes,
                                                     positions, numbers, on, snapshot_as_of),
                         positions)
        else:
            touched = np.unique(np.concatenate(
                [t for v, t in self._touched[clinic_id] if v > view.version]))
            positions = self._positions(index, clinic_id, outcomes, view.positions)
            outcome = self._apply(index, view.outcome, clinic_id, tables, outcomes, positions,
                                  touched, on, snapshot_as_of)
            view = _View(index, version, outcome, positions)
        if key not in self._views and len(self._views) >= CACHE_SIZE:
            self._views.pop(next(iter(self._views)))
        self._views[key] = view
        return view

    def _can_patch(self, clinic_id: str, view: _View) -> bool:
        log = self._touched.get(clinic_id, [])
        return bool(log) and log[0][0] <= view.version + 1

    @staticmethod
    def _positions(index: SnapshotIndex, clinic_id: str, outcomes: ClinicOutcomes,
                   known: np.ndarray) -> np.ndarray:
        """Each outcome patient's position in the clinic (-1: not in the snapshot); only
        patients numbered since ``known`` was made are looked up."""
        if len(known) == outcomes.size:
            return known
        new_ids = outcomes.ids[len(known):]
        found = index.clinics[clinic_id].position.index.get_indexer(new_ids)
        return np.concatenate([known, found.astype(np.int64)])

    def _apply(self, index: SnapshotIndex, base: SnapshotIndex, clinic_id: str,
               tables: ClinicTables, outcomes: ClinicOutcomes, positions: np.ndarray,
               numbers: np.ndarray, on: dt.date, snapshot_as_of: dt.date) -> SnapshotIndex:
        numbers = numbers[positions[numbers] >= 0]
        where = positions[numbers]
        rules, removed = outcomes.verdicts(numbers, on, snapshot_as_of, tables.counts[where],
                                           self.settings)
        return patched_index(index, base, clinic_id, tables, where, rules, removed)

    def _rest(self, index: SnapshotIndex, base: SnapshotIndex, clinic_id: str,
              resting: pd.Series, on: dt.date) -> SnapshotIndex:
        """``base`` with the sequence members kept off on day ``on`` blocked."""
        found = index.clinics[clinic_id].position.index.get_indexer(kept_off_ids(resting, on))
        where = found[found >= 0].astype(np.int64)
        tables = self._clinic_tables(index, clinic_id)
        return patched_index(index, base, clinic_id, tables, where,
                             {SEQUENCE_RULE: np.ones(len(where), dtype=bool)},
                             np.zeros(len(where), np.uint8), from_plain=False)

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
        window = pd.Timedelta(days=self.settings.policy.max_contacts_window_days)
        with self._lock:
            numbers = outcomes.number_of(np.asarray(patient_ids, dtype=object))
            return outcomes.sends_between(
                numbers, after=(pd.Timestamp(on) - window).value,
                start=pd.Timestamp(cutoff(snapshot_as_of)).value,
                before=pd.Timestamp(before).value)

    def opted_out(self, clinic_id: str, patient_ids: pd.Index) -> np.ndarray:
        """(n, C) channels each patient opted out of in a posted outcome (any campaign)."""
        outcomes = self._clinics.get(clinic_id)
        if outcomes is None:
            return np.zeros((len(patient_ids), len(CHANNELS)), bool)
        with self._lock:
            numbers = outcomes.number_of(np.asarray(patient_ids, dtype=object))
            bits = np.where(numbers >= 0, outcomes.opted[np.maximum(numbers, 0)], 0)
        return ((bits[:, None] >> np.arange(len(CHANNELS))) & 1).astype(bool)
