"""Point-in-time event views shared by the feature families.

Why this module exists: every family aggregates the same event tables per patient. Hashing
string ids and sorting ten million visits once per family (or once per as-of date during
training) would dominate the run time, so :func:`prepare` maps ``patient_id`` to integer codes
(0..n-1 = the row order of ``tables.patients`` = the output order) and sorts the visits once by
patient and time. :func:`at` then cuts a view as of T with boolean masks, which keep that
order, so families can use ``np.bincount`` and "last row of each run" tricks.

Time rule (``features.vocabulary``): an event is known at T iff its timestamp is ``< cutoff(T)``,
the midnight after day T. A contact's response is known only when ``responded_at`` is before
the cutoff; its opt-out only when the opt-out's own time (``responded_at``, else ``sent_at``)
is; a booking credited to a contact only when the booking (``booked_at``, else ``visit_at``)
is. Ties are broken on sorted category codes, so shuffling input rows changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np
import pandas as pd

from features.export.tables import Tables
from features.pipeline.grouping import (
    codes_in,
    codes_of,
    ids_to_codes,
    order_by,
    shifted,
    time_ordinals,
)
from features.vocabulary import (
    CHANNELS,
    COMPLETED_CODE,
    VISIT_STATUSES,
    as_timestamp,
    booking_moment,
    credited_contacts,
    cutoff,
    within_attribution,
)

NAT = np.datetime64("NaT", "ns")


def day_number(ts: np.ndarray) -> np.ndarray:
    """Whole days since 1970-01-01 of datetime64 values."""
    return ts.astype("datetime64[D]").astype(np.int64)


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
    day: np.ndarray
    status: np.ndarray
    service: np.ndarray
    provider: np.ndarray
    location: np.ndarray
    revenue: np.ndarray


@dataclass(frozen=True)
class ContactLog(_Log):
    """Contacts (input order); ``channel`` indexes ``CHANNELS``."""

    pid: np.ndarray
    channel: np.ndarray
    sent_at: np.ndarray
    responded_at: np.ndarray
    opted_out: np.ndarray
    opt_out_at: np.ndarray


@dataclass(frozen=True)
class Prepared:
    """An export made ready for fast as-of views; built once, reused for every as-of date.

    ``visit_at``, ``booked_at`` and ``booking_at`` (booked_at, else visit_at) run parallel to
    ``visits``; ``credited`` is, per visit, the contact row credited with its booking (-1:
    none) before the attribution window is applied.
    """

    patients: pd.DataFrame
    patient_ids: pd.Index
    clinic: np.ndarray
    clinics: np.ndarray
    visits: VisitLog
    visit_at: np.ndarray
    booked_at: np.ndarray
    booking_at: np.ndarray
    credited: np.ndarray
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
        visits: visits with ``visit_at < cutoff``, any status, in prepared order.
        completed: the completed ones among them.
        contacts: contacts sent before the cutoff, responses and opt-outs not yet known
            masked out (NaT / False); None when the export has no contacts table.
        credited: per known contact row, bookings known at T credited to it.
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
    """Map ids to codes and sort the visits of ``tables`` once (inputs are not modified)."""
    patients = tables.patients.reset_index(drop=True)
    ids = pd.Index(patients["patient_id"].astype(object), name="patient_id")
    clinic, clinics = codes_of(patients["clinic_id"].fillna("default"))
    frame = tables.visits
    pid = _patient_codes(tables, "visits", ids)
    status_code = codes_in(frame["status"], VISIT_STATUSES, missing=COMPLETED_CODE)
    status_code = status_code.astype(np.int8)
    # int32 codes from the start (what the log keeps): each int64 copy of a ten-million-row
    # column is 80 MB, and this function ran at the nightly job's memory peak.
    service, services = _codes32(frame["service"])
    provider, providers = _codes32(frame["provider_id"])
    location, locations = _codes32(frame["location_id"])
    visit_at = frame["visit_at"].to_numpy("datetime64[ns]")
    order = _visit_order(pid, len(ids), visit_at, status_code, service, provider, location)
    visit_at = visit_at[order]
    booked_at = frame["booked_at"].to_numpy("datetime64[ns]")[order]
    visits = VisitLog(
        pid=pid[order],
        day=day_number(visit_at),
        status=status_code[order],
        service=service[order],
        provider=provider[order],
        location=location[order],
        revenue=frame["revenue"].to_numpy(np.float64)[order],
    )
    del pid, status_code, service, provider, location
    booking_at = booking_moment(booked_at, visit_at)
    contacts = None if tables.contacts is None else _contact_log(
        tables.contacts, _patient_codes(tables, "contacts", ids))
    credited = (np.full(len(order), -1, dtype=np.int64) if contacts is None
                else credited_contacts(visits.pid, booking_at, contacts.pid, contacts.sent_at,
                                       contacts.channel))
    return Prepared(
        patients=patients, patient_ids=ids, clinic=clinic, clinics=clinics, visits=visits,
        visit_at=visit_at, booked_at=booked_at, booking_at=booking_at, credited=credited,
        services=services, providers=providers, locations=locations, contacts=contacts,
        export_date=pd.Timestamp(tables.export_date),
        revenue_provided=_has_revenue(tables),
    )


def _codes32(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``codes_of`` with int32 codes."""
    codes, labels = codes_of(values)
    return codes.astype(np.int32), labels


def _visit_order(pid: np.ndarray, n: int, visit_at: np.ndarray, *codes: np.ndarray
                 ) -> np.ndarray:
    """Positions of the visits of known patients (``pid >= 0``), sorted by patient, time
    and then ``codes`` (status, service, provider, location); missing codes sort first."""
    (ordinal,), span = time_ordinals(visit_at)
    keep = pid >= 0
    if keep.all():  # the usual case: no row to leave out, so no filtered copies
        return order_by([(pid, n), (ordinal, span), *(shifted(c) for c in codes)],
                        stable=False)
    return np.flatnonzero(keep)[order_by(
        [(pid[keep], n), (ordinal[keep], span), *(shifted(c[keep]) for c in codes)],
        stable=False)]


def _has_revenue(tables: Tables) -> bool:
    """Whether the export has revenue: the source's column list when known, else any value.

    Decided for the whole export, not per as-of date, so a revenue-less history before T does
    not turn "unknown" into "zero" once later visits carry amounts.
    """
    provided = tables.provided_columns.get("visits")
    if provided is not None:
        return "revenue" in provided
    return bool(tables.visits["revenue"].notna().any())


def _patient_codes(tables: Tables, table: str, ids: pd.Index) -> np.ndarray:
    """Each row's patient position: the loader's when it left them for this frame
    (``Tables.patient_positions``), else one hash lookup per row."""
    known = tables.patient_positions(table)
    return known if known is not None else ids_to_codes(getattr(tables, table)["patient_id"], ids)


def _contact_log(frame: pd.DataFrame, pid: np.ndarray) -> ContactLog:
    channel = codes_in(frame["channel"], CHANNELS)
    keep = (pid >= 0) & (channel >= 0)
    sent = frame["sent_at"].to_numpy("datetime64[ns]")[keep]
    responded = frame["responded_at"].to_numpy("datetime64[ns]")[keep]
    return ContactLog(
        pid=pid[keep],
        channel=channel[keep],
        sent_at=sent,
        responded_at=responded,
        opted_out=frame["opted_out"].fillna(False).to_numpy(bool)[keep],
        opt_out_at=np.where(np.isnat(responded), sent, responded),
    )


def at(prepared: Prepared, as_of: str | pd.Timestamp, attribution_days: int) -> Events:
    """The view of ``prepared`` known at the end of day ``as_of`` (``ts < cutoff(as_of)``)."""
    end = cutoff(as_of)
    end64 = np.datetime64(end.to_datetime64(), "ns")
    visits = prepared.visits.take(prepared.visit_at < end64)
    contacts, credited = None, None
    c = prepared.contacts
    if c is not None:
        sent = c.sent_at < end64
        contacts = replace(
            c.take(sent),
            responded_at=np.where(c.responded_at[sent] < end64, c.responded_at[sent], NAT),
            opted_out=c.opted_out[sent] & (c.opt_out_at[sent] < end64),
        )
        credited = _credited_counts(prepared, end64, attribution_days)[sent]
    day = as_timestamp(as_of)
    return Events(
        prepared=prepared, as_of=day, cutoff=end,
        day=int(day_number(np.array([day.to_datetime64()]))[0]),
        visits=visits, completed=visits.take(visits.status == COMPLETED_CODE),
        contacts=contacts, credited=credited,
    )


def _credited_counts(prepared: Prepared, end64: np.datetime64, attribution_days: int
                     ) -> np.ndarray:
    """Bookings known at T credited to each contact row, within the attribution window."""
    c = prepared.contacts
    assert c is not None
    known = (prepared.credited >= 0) & (prepared.booking_at < end64)
    rows = prepared.credited[known]
    in_window = within_attribution(prepared.booking_at[known], c.sent_at[rows], attribution_days)
    return np.bincount(rows[in_window], minlength=len(c))
