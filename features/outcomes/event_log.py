"""Every stored outcome event of each clinic as integer-coded arrays, kept in memory.

Why: reading two million events back from the store as Python rows takes over ten seconds,
while the campaign results and the sequence due lists computed from integer arrays take well
under one. The service fills this log from the store once (``catch_up`` at start, on a
background thread) and then takes in only the rows stored after the last one it has (by the
store's ``seq`` column): a ``POST /outcomes`` batch is coded from the frame just stored when
its ``seq`` values follow the log's last one (:meth:`EventLog.add_batch`), else the new rows
are read back.

Per clinic, patients and campaigns get numbers (first seen, first numbered); per event the
log keeps the patient's number, the codes of ``type`` (into ``OUTCOME_TYPES``) and
``channel`` (into ``CHANNELS``, -1: none), the campaign's number (-1: none), ``at`` as int64
nanoseconds, ``revenue`` and ``cost`` (NaN: none), in storage order. Arrays only grow: a
:class:`LogView` taken once stays valid while later batches are appended.

One caveat on PostgreSQL: ``seq`` is handed out when a row is inserted, not when its
transaction commits, so a batch committed by another process (``reactivate outcomes
import``) while a later ``seq`` was already read would be missed until a restart. The
service's own writes are serialised, so its batches are never missed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.outcomes.store import LOG_COLUMNS, OutcomeStore, log_values
from features.vocabulary import CHANNELS, OUTCOME_TYPES

CHUNK = 200_000  # rows read from the store per query
TOUCHED_LOG = 256  # batches whose touched patients are remembered per clinic
_COLUMNS = {"patient": np.int64, "type_": np.int8, "channel": np.int8, "campaign": np.int32,
            "at": np.int64, "revenue": np.float64, "cost": np.float64}


@dataclass(frozen=True)
class LogView:
    """A clinic's events up to one moment (arrays aligned, storage order)."""

    patient: np.ndarray
    type_: np.ndarray
    channel: np.ndarray
    campaign: np.ndarray
    at: np.ndarray
    revenue: np.ndarray
    cost: np.ndarray
    version: int

    def __len__(self) -> int:
        return len(self.patient)


def _codes(values: np.ndarray, labels: pd.Index) -> np.ndarray:
    """Position of each value in ``labels`` (-1: missing or unknown), one hash per label."""
    codes, uniques = pd.factorize(values)
    return np.append(labels.get_indexer(uniques), -1)[codes]


class ClinicLog:
    """One clinic's coded events, its patient and campaign numbers."""

    def __init__(self) -> None:
        self.patients: dict[str, int] = {}
        self.ids = np.zeros(0, dtype=object)
        self.campaigns: dict[str, int] = {}
        self._arrays = {name: np.zeros(1024, dtype) for name, dtype in _COLUMNS.items()}
        self.size = 0
        self.version = 0
        self.touched: list[tuple[int, np.ndarray]] = []  # (version, patient numbers)

    def number(self, patient_ids: np.ndarray) -> np.ndarray:
        """Numbers of ``patient_ids``, numbering the ones not seen yet (call under the
        log's lock)."""
        codes, uniques = pd.factorize(np.asarray(patient_ids, dtype=object))
        numbers = self.patients
        found = np.fromiter((numbers.setdefault(p, len(numbers)) for p in uniques),
                            dtype=np.int64, count=len(uniques))
        new = found >= len(self.ids)  # numbered just now, in the order of ``uniques``
        if new.any():
            new_ids = np.empty(int(new.sum()), dtype=object)
            new_ids[:] = np.asarray(uniques, dtype=object)[new]
            self.ids = np.concatenate([self.ids, new_ids])
        return found[codes] if len(codes) else np.zeros(0, np.int64)

    def number_of(self, patient_ids: np.ndarray) -> np.ndarray:
        """Numbers of known patients (-1: never seen); nothing is numbered."""
        get = self.patients.get
        return np.fromiter((get(p, -1) for p in patient_ids), dtype=np.int64,
                           count=len(patient_ids))

    def campaign_number(self, campaign_id: str) -> int:
        """The campaign's number (-1: no event names it yet)."""
        return self.campaigns.get(campaign_id, -1)

    def fold(self, columns: dict[str, np.ndarray]) -> None:
        """Append one chunk of this clinic's rows (raw ``LOG_COLUMNS`` values)."""
        n = len(columns["patient_id"])
        if not n:
            return
        patient = self.number(columns["patient_id"])
        campaign, labels = pd.factorize(columns["campaign_id"])
        lookup = np.fromiter((self.campaigns.setdefault(c, len(self.campaigns))
                              for c in labels), dtype=np.int64, count=len(labels))
        coded = {
            "patient": patient,
            "type_": _codes(columns["type"], pd.Index(OUTCOME_TYPES)),
            "channel": _codes(columns["channel"], pd.Index(CHANNELS)),
            "campaign": np.append(lookup, -1)[campaign],
            "at": np.array(columns["at_us"], dtype=np.int64) * 1000,
            "revenue": np.array(columns["revenue"], dtype=np.float64),
            "cost": np.array(columns["cost"], dtype=np.float64),
        }
        end = self.size + n
        for name, values in coded.items():
            array = self._arrays[name]
            if end > len(array):  # a new buffer: views of the old one stay as they were
                grown = np.zeros(max(end, 2 * len(array)), array.dtype)
                grown[:self.size] = array[:self.size]
                array = self._arrays[name] = grown
            array[self.size:end] = values
        self.size = end
        self.version += 1
        self.touched.append((self.version, np.unique(patient)))
        del self.touched[:-TOUCHED_LOG]

    def view(self) -> LogView:
        """The events folded so far (read-only views)."""
        arrays = {name: a[:self.size] for name, a in self._arrays.items()}
        for a in arrays.values():
            a.flags.writeable = False
        return LogView(**arrays, version=self.version)

    def touched_since(self, version: int) -> np.ndarray | None:
        """Patients touched by the batches after ``version`` (None: no longer known)."""
        if version >= self.version:
            return np.zeros(0, np.int64)
        if not self.touched or self.touched[0][0] > version + 1:
            return None
        return np.unique(np.concatenate([t for v, t in self.touched if v > version]))


class EventLog:
    """The coded events of every clinic, caught up with the store on request.

    Args:
        store: the outcome store to read from.
    """

    def __init__(self, store: OutcomeStore) -> None:
        self.store = store
        self.seq = 0
        self._clinics: dict[str, ClinicLog] = {}
        self.lock = threading.RLock()

    def catch_up(self) -> int:
        """Read and fold every row stored after the last one read; returns how many."""
        read = 0
        with self.lock:
            while True:
                seq, rows = self.store.events_after(self.seq, CHUNK)
                if rows:
                    self._fold(rows)
                    read += len(rows)
                self.seq = seq
                if len(rows) < CHUNK:
                    return read

    def add_batch(self, clinic_id: str, events: pd.DataFrame,
                  seqs: tuple[int, int] | None) -> None:
        """Take in a batch the caller just stored (normalised events, storage order).

        When the log has read every row up to the batch (``seqs[0]``), the batch is coded
        from memory, exactly as it reads back (times cut to the store's microseconds);
        otherwise the log reads the store from where it stopped.
        """
        with self.lock:
            if seqs is None or seqs[0] != self.seq or not len(events):
                self.catch_up()
                return
            columns = log_values(events)
            self._clinics.setdefault(clinic_id, ClinicLog()).fold(columns)
            self.seq = seqs[1]

    def _fold(self, rows: list[tuple]) -> None:
        values = list(zip(*rows, strict=True))[1:]  # without seq
        columns = {}
        for name, column in zip(LOG_COLUMNS, values, strict=True):
            array = np.empty(len(column), dtype=object)
            array[:] = column
            columns[name] = array
        clinic_codes, clinics = pd.factorize(columns.pop("clinic_id"))
        for code, clinic in enumerate(clinics):
            rows_of = (np.flatnonzero(clinic_codes == code) if len(clinics) > 1
                       else slice(None))
            log = self._clinics.setdefault(str(clinic), ClinicLog())
            log.fold({name: array[rows_of] for name, array in columns.items()})

    def clinic(self, clinic_id: str) -> ClinicLog:
        """The clinic's log (empty until an event of the clinic is read)."""
        with self.lock:
            return self._clinics.setdefault(clinic_id, ClinicLog())
