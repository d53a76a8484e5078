"""Point-in-time event views shared by the feature families.

Why this module exists: every family aggregates the same event tables per patient. Hashing
string ids and sorting ten million visits once per family (or once per as-of date during
training) would dominate the run time, so :func:`prepare` factorises ``patient_id`` against
``tables.patients`` (integer codes 0..n-1 = the output row order) and sorts each event table
once by patient and time. :func:`at` then cuts a view as of T with boolean masks, which keep
that order, so families can use ``np.bincount`` and "last row of each run" tricks.

Time rule (``features.asof``): an event is known at T iff its timestamp is ``< cutoff(T)``,
the midnight after day T. A contact's response is known only when ``responded_at`` is before
the cutoff; its opt-out only when the opt-out's own time (``responded_at``, else ``sent_at``)
is. Ties are broken on sorted category codes, so shuffling input rows changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np
import pandas as pd

from features.asof import as_timestamp, cutoff
from features.config import CHANNELS
from features.tables import VISIT_STATUSES, Tables

COMPLETED, NO_SHOW, CANCELLED, SCHEDULED = (VISIT_STATUSES.index(s) for s in VISIT_STATUSES)


def day_number(ts: np.ndarray) -> np.ndarray:
    """Whole days since 1970-01-01 of datetime64 values (NaT gives a huge negative number)."""
    return ts.astype("datetime64[D]").astype(np.int64)


def codes_of(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Sorted-label integer codes (-1 = missing) and the labels as an object array."""
    codes, labels = pd.factorize(values, sort=True)
    return codes.astype(np.int64), np.asarray(labels, dtype=object)


def labels_at(labels: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Object array of labels for ``codes``; code -1 gives None."""
    padded = np.append(labels, None)
    return padded[np.where(codes >= 0, codes, len(labels))]


@dataclass(frozen=True)
class _Log:
    """Parallel numpy arrays, one row per event; ``take`` keeps every array aligned."""

    def take(self, rows: np.ndarray) -> _Log:
        """The same log restricted to ``rows`` (a boolean mask or an index array)."""
        return replace(self, **{f.name: getattr(self, f.name)[rows] for f in fields(self)})

    def __len__(self) -> int:
        return len(getattr(self, fields(self)[0].name))


@dataclass(frozen=True)
class VisitLog(_Log):
    """Visits sorted by patient, time, then status/service/provider/location codes."""

    pid: np.ndarray
    at: np.ndarray
    day: np.ndarray
    status: np.ndarray
    service: np.ndarray
    provider: np.ndarray
    location: np.ndarray
    revenue: np.ndarray
    booked_at: np.ndarray
    booking_at: np.ndarray
    credited: np.ndarray


@dataclass(frozen=True)
class ContactLog(_Log):
    """Contacts sorted by patient, channel, send time; ``channel`` indexes ``CHANNELS``."""

    pid: np.ndarray
    channel: np.ndarray
    sent_at: np.ndarray
    responded_at: np.ndarray
    opted_out: np.ndarray
    opt_out_at: np.ndarray


@dataclass(frozen=True)
class Prepared:
    """An export made ready for fast as-of views; built once, reused for every as-of date."""

    patients: pd.DataFrame
    patient_ids: pd.Index
    clinic: np.ndarray
    clinics: np.ndarray
    visits: VisitLog
    services: np.ndarray
    providers: np.ndarray
    locations: np.ndarray
    contacts: ContactLog | None
    export_date: pd.Timestamp
    revenue_provided: bool

    @property
    def n(self) -> int:
        """Number of patients (output rows)."""
        return len(self.patient_ids)


@dataclass(frozen=True)
class Events:
    """What is known at as-of date T (see the module docstring for the rule).

    Attributes:
        visits: visits with ``visit_at < cutoff``, any status.
        completed: the completed ones among them.
        contacts: contacts sent before the cutoff, responses and opt-outs not yet known
            masked out (NaT / False); None when the export has no contacts table.
        credited: per known contact row, bookings known at T credited to it.
        all_visits: every visit of the export (for appointments already booked at T).
    """

    prepared: Prepared
    as_of: pd.Timestamp
    cutoff: pd.Timestamp
    day: int
    visits: VisitLog
    completed: VisitLog
    contacts: ContactLog | None
    credited: np.ndarray | None

    @property
    def n(self) -> int:
        """Number of patients (output rows)."""
        return self.prepared.n

    @property
    def index(self) -> pd.Index:
        """The output index: every patient of the export."""
        return self.prepared.patient_ids


def prepare(tables: Tables) -> Prepared:
    """Factorise ids and sort the event tables of ``tables`` once (inputs are not modified)."""
    patients = tables.patients.reset_index(drop=True)
    ids = pd.Index(patients["patient_id"].astype(object), name="patient_id")
    clinic, clinics = codes_of(patients["clinic_id"].fillna("default"))
    visits, services, providers, locations = _visit_log(tables.visits, ids)
    contacts = None
    if tables.contacts is not None:
        contacts = _contact_log(tables.contacts, ids)
        visits = replace(visits, credited=_attribute(visits, contacts))
    return Prepared(
        patients=patients,
        patient_ids=ids,
        clinic=clinic,
        clinics=clinics,
        visits=visits,
        services=services,
        providers=providers,
        locations=locations,
        contacts=contacts,
        export_date=pd.Timestamp(tables.export_date),
        revenue_provided=bool(tables.visits["revenue"].notna().any()),
    )


def _visit_log(frame: pd.DataFrame, ids: pd.Index) -> tuple[VisitLog, np.ndarray, ...]:
    pid = ids.get_indexer(frame["patient_id"]).astype(np.int64)
    status = pd.Categorical(frame["status"].fillna("completed"), categories=VISIT_STATUSES)
    service, services = codes_of(frame["service"])
    provider, providers = codes_of(frame["provider_id"])
    location, locations = codes_of(frame["location_id"])
    at = frame["visit_at"].to_numpy("datetime64[ns]")
    booked = frame["booked_at"].to_numpy("datetime64[ns]")
    status_code = status.codes.astype(np.int64)
    order = np.lexsort((location, provider, service, status_code, at.view(np.int64), pid))
    order = order[pid[order] >= 0]
    log = VisitLog(
        pid=pid[order],
        at=at[order],
        day=day_number(at[order]),
        status=status_code[order],
        service=service[order],
        provider=provider[order],
        location=location[order],
        revenue=frame["revenue"].to_numpy(np.float64)[order],
        booked_at=booked[order],
        booking_at=np.where(np.isnat(booked), at, booked)[order],
        credited=np.full(len(order), -1, dtype=np.int64),
    )
    return log, services, providers, locations


def _contact_log(frame: pd.DataFrame, ids: pd.Index) -> ContactLog:
    pid = ids.get_indexer(frame["patient_id"]).astype(np.int64)
    channel = pd.Categorical(frame["channel"], categories=CHANNELS).codes.astype(np.int64)
    sent = frame["sent_at"].to_numpy("datetime64[ns]")
    responded = frame["responded_at"].to_numpy("datetime64[ns]")
    opted = frame["opted_out"].fillna(False).to_numpy(bool)
    order = np.lexsort((responded.view(np.int64), sent.view(np.int64), channel, pid))
    order = order[(pid[order] >= 0) & (channel[order] >= 0)]
    return ContactLog(
        pid=pid[order],
        channel=channel[order],
        sent_at=sent[order],
        responded_at=responded[order],
        opted_out=opted[order],
        opt_out_at=np.where(np.isnat(responded), sent, responded)[order],
    )


def _attribute(visits: VisitLog, contacts: ContactLog) -> np.ndarray:
    """Contact row credited with each visit's booking (-1 = none), by the contract's rule.

    A visit is booked at ``booked_at`` (else ``visit_at``); the latest contact of the same
    patient sent at or before that moment, and at most ``attribution_days`` earlier, gets the
    credit. The window comes from the settings at view time, so here only the latest contact
    is found; :func:`at` applies the window.
    """
    left = pd.DataFrame({"pid": visits.pid, "t": visits.booking_at, "row": np.arange(len(visits))})
    left = left[~np.isnat(visits.booking_at)].sort_values("t", kind="stable")
    right = pd.DataFrame({"pid": contacts.pid, "t": contacts.sent_at, "crow": np.arange(len(contacts))})
    right = right.sort_values("t", kind="stable")
    merged = pd.merge_asof(left, right, on="t", by="pid", direction="backward")
    credited = np.full(len(visits), -1, dtype=np.int64)
    found = merged["crow"].notna().to_numpy()
    credited[merged["row"].to_numpy()[found]] = merged["crow"].to_numpy()[found].astype(np.int64)
    return credited


def at(prepared: Prepared, as_of: str | pd.Timestamp, attribution_days: int) -> Events:
    """The view of ``prepared`` known at the end of day ``as_of`` (``ts < cutoff(as_of)``)."""
    end = cutoff(as_of)
    end64 = np.datetime64(end.to_datetime64(), "ns")
    visits = prepared.visits.take(prepared.visits.at < end64)
    contacts, credited = None, None
    if prepared.contacts is not None:
        contacts = prepared.contacts.take(prepared.contacts.sent_at < end64)
        nat = np.datetime64("NaT", "ns")
        contacts = replace(
            contacts,
            responded_at=np.where(contacts.responded_at < end64, contacts.responded_at, nat),
            opted_out=contacts.opted_out & (contacts.opt_out_at < end64),
        )
        credited = _credited_counts(prepared, contacts, end64, attribution_days)
    return Events(
        prepared=prepared,
        as_of=as_timestamp(as_of),
        cutoff=end,
        day=int(day_number(np.array([as_timestamp(as_of).to_datetime64()]))[0]),
        visits=visits,
        completed=visits.take(visits.status == COMPLETED),
        contacts=contacts,
        credited=credited,
    )


def _credited_counts(
    prepared: Prepared, known: ContactLog, end64: np.datetime64, attribution_days: int
) -> np.ndarray:
    """Bookings known at T credited to each known contact row (within the attribution window)."""
    v, c = prepared.visits, prepared.contacts
    assert c is not None
    window = np.timedelta64(attribution_days, "D")
    known = (v.credited >= 0) & (v.booking_at < end64)
    rows = v.credited[known]
    in_window = v.booking_at[known] - c.sent_at[rows] <= window
    per_row = np.bincount(rows[in_window], minlength=len(c))
    return per_row[c.sent_at < end64]


def last_rows(pid: np.ndarray) -> np.ndarray:
    """Positions of the last row of each patient run in a patient-sorted array."""
    if len(pid) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.r_[pid[1:] != pid[:-1], True])


def first_rows(pid: np.ndarray) -> np.ndarray:
    """Positions of the first row of each patient run in a patient-sorted array."""
    if len(pid) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.r_[True, pid[1:] != pid[:-1]])


def scatter(n: int, at_rows: np.ndarray, values: np.ndarray, fill: object = np.nan) -> np.ndarray:
    """An array of length ``n`` holding ``values`` at ``at_rows`` and ``fill`` elsewhere."""
    dtype = object if values.dtype == object else np.result_type(values.dtype, np.float64)
    out = np.full(n, fill, dtype=dtype)
    out[at_rows] = values
    return out


def group_median(keys: np.ndarray, values: np.ndarray, n_keys: int) -> np.ndarray:
    """Median of ``values`` per integer key in 0..n_keys-1 (NaN for empty keys), no Python loop."""
    out = np.full(n_keys, np.nan)
    if len(keys) == 0:
        return out
    order = np.lexsort((values, keys))
    sorted_values = values[order].astype(np.float64)
    counts = np.bincount(keys, minlength=n_keys)
    starts = np.cumsum(counts) - counts
    has = counts > 0
    lo = starts[has] + (counts[has] - 1) // 2
    hi = starts[has] + counts[has] // 2
    out[has] = (sorted_values[lo] + sorted_values[hi]) / 2.0
    return out


def rate(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` with NaN where ``den`` is 0."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
