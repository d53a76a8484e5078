"""The typed, validated in-memory form of a clinic export.

Every layer above works on :class:`Tables`. The loader (``features.export.loading``) guarantees:

* ``visits`` always holds every contract column, in the dtypes of ``VISIT_DTYPES``; optional
  columns the export did not have are all-missing. ``status`` defaults to ``completed``.
  Stale ``scheduled`` visits (before the export date) are already removed (and reported).
* ``patients`` always exists: without a patients table it is derived from the visits, one row
  per patient in clinic ``default``, every optional column missing. ``has_patients_table``
  says which.
* ``contacts`` is ``None`` when the export has no contacts table (no channel model then);
  ``campaign_members`` likewise when the export has no campaign members.
* Timestamps are naive ``datetime64[ns]`` in the clinic's local time; ids are ``object`` str,
  except the row keys ``visit_id`` and ``contact_id``: Arrow-backed strings (``ROW_KEY_DTYPE``),
  because nothing above the loader reads them and ten million Python strings cost a gigabyte.
* Nothing here carries information past ``export_date`` except ``scheduled`` visits.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

# The row keys' dtype: one Arrow buffer instead of a Python object per row (missing: <NA>).
ROW_KEY_DTYPE = "string[pyarrow]"

PATIENT_DTYPES: dict[str, str] = {
    "patient_id": "object",
    "clinic_id": "object",
    "location_id": "object",
    "birth_date": "datetime64[ns]",
    "sex": "object",
    "consent_sms": "boolean",
    "consent_email": "boolean",
    "consent_phone": "boolean",
    "consent_mail": "boolean",
    "do_not_contact": "boolean",
    "deceased": "boolean",
    "created_at": "datetime64[ns]",
}

VISIT_DTYPES: dict[str, str] = {
    "visit_id": ROW_KEY_DTYPE,
    "patient_id": "object",
    "visit_at": "datetime64[ns]",
    "status": "object",
    "booked_at": "datetime64[ns]",
    "service": "object",
    "provider_id": "object",
    "location_id": "object",
    "revenue": "float64",
}

CONTACT_DTYPES: dict[str, str] = {
    "contact_id": ROW_KEY_DTYPE,
    "patient_id": "object",
    "channel": "object",
    "sent_at": "datetime64[ns]",
    "campaign_id": "object",
    "responded_at": "datetime64[ns]",
    "opted_out": "boolean",
}

CAMPAIGN_MEMBER_DTYPES: dict[str, str] = {
    "campaign_id": "object",
    "patient_id": "object",
    "assigned_at": "datetime64[ns]",
    "arm": "object",
    "channel": "object",
}

OUTCOME_EVENT_DTYPES: dict[str, str] = {
    "event_id": "object",
    "patient_id": "object",
    "campaign_id": "object",
    "channel": "object",
    "type": "object",
    "at": "datetime64[ns]",
    "revenue": "float64",
    "cost": "float64",
    "appointment_at": "datetime64[ns]",
}

TABLE_DTYPES: dict[str, dict[str, str]] = {
    "patients": PATIENT_DTYPES,
    "visits": VISIT_DTYPES,
    "contacts": CONTACT_DTYPES,
    "campaign_members": CAMPAIGN_MEMBER_DTYPES,
}
# Each table's key: unique where present (the contract's "unique key" rule).
KEYS: dict[str, str] = {"patients": "patient_id", "visits": "visit_id", "contacts": "contact_id"}
# Tables keyed by several columns: a patient is a member of a campaign at most once.
COMPOSITE_KEYS: dict[str, tuple[str, ...]] = {"campaign_members": ("campaign_id", "patient_id")}


@dataclass(frozen=True)
class PatientRows:
    """Per row of a table, the position of its patient among ``Tables.patients``' rows (-1
    for none), as the loader found it from the ids it had already encoded.

    Why: mapping ten million visit ids to patients again by hashing each string cost 14 s of
    the nightly job at a million patients; the loader has hashed them once already. Valid only
    for the very frames it was made for (held by weak reference): a table replaced later
    (stored outcomes merged in, rows filtered) is mapped again by whoever needs it.
    """

    positions: np.ndarray
    frame: weakref.ref
    patients: weakref.ref

    @classmethod
    def of(cls, positions: np.ndarray, frame: pd.DataFrame, patients: pd.DataFrame
           ) -> PatientRows:
        return cls(positions, weakref.ref(frame), weakref.ref(patients))

    def valid_for(self, frame: pd.DataFrame | None, patients: pd.DataFrame) -> bool:
        return (frame is not None and self.frame() is frame and self.patients() is patients
                and len(self.positions) == len(frame))


@dataclass(frozen=True)
class Tables:
    """A clinic export after contract checks.

    Attributes:
        visits: one row per appointment, columns of ``VISIT_DTYPES``.
        patients: one row per patient, columns of ``PATIENT_DTYPES``.
        contacts: one row per outreach attempt (``CONTACT_DTYPES``), or None when absent.
        export_date: the moment the export was taken; only scheduled visits lie after it.
        has_patients_table: False when ``patients`` was derived from the visits.
        campaign_members: one row per (campaign, patient) with its randomised arm
            (``CAMPAIGN_MEMBER_DTYPES``), or None when the export has no such table.
        provided_columns: per table, the columns the source really had (the rest are filled
            with missing values), so callers can tell "unknown" from "absent".
        campaign_members: one row per patient listed by a campaign, with its randomised arm
            (``CAMPAIGN_MEMBER_DTYPES``), or None when the export has none.
        patient_rows: per table (``visits``, ``contacts``), each row's patient position as
            the loader found it (:class:`PatientRows`); read it through
            :meth:`patient_positions`, which ignores it once the table was replaced.
    """

    visits: pd.DataFrame
    patients: pd.DataFrame
    contacts: pd.DataFrame | None
    export_date: pd.Timestamp
    has_patients_table: bool = True
    provided_columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    campaign_members: pd.DataFrame | None = None
    patient_rows: dict[str, PatientRows] = field(default_factory=dict, repr=False,
                                                 compare=False)

    def patient_positions(self, table: str) -> np.ndarray | None:
        """Each row's position in ``patients`` (-1: unknown patient) when the loader left
        them for this very frame, else None (the caller maps the ids itself)."""
        known = self.patient_rows.get(table)
        frame = getattr(self, table)
        return known.positions if known is not None and known.valid_for(
            frame, self.patients) else None

    @property
    def clinic_ids(self) -> list[str]:
        """Sorted clinic ids present in the export."""
        return sorted(self.patients["clinic_id"].dropna().unique().tolist())


def empty_frame(table: str) -> pd.DataFrame:
    """An empty frame with the contract columns and dtypes of ``table``."""
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in TABLE_DTYPES[table].items()})


def conform(frame: pd.DataFrame, table: str, copy: bool = True) -> pd.DataFrame:
    """Return a copy of ``frame`` with exactly the contract columns of ``table`` and their dtypes.

    Absent columns are added as all-missing; extra columns are dropped. Values must already be
    parsed (this is not a validator: see ``features.export.loading`` for that).
    ``copy=False`` shares the columns already in their dtype with ``frame`` (for a caller that
    owns ``frame``, like the loader: copying ten million visits costs seconds and gigabytes).
    """
    out = {}
    for col, dtype in TABLE_DTYPES[table].items():
        if col in frame.columns:
            out[col] = frame[col] if frame[col].dtype == dtype else frame[col].astype(dtype)
        else:
            out[col] = _missing(dtype, frame.index)
    return pd.DataFrame(out, index=frame.index, copy=copy)


def _missing(dtype: str, index: pd.Index) -> pd.Series:
    """An all-missing column of ``dtype``."""
    if dtype.startswith("datetime"):
        return pd.Series(pd.NaT, index=index, dtype=dtype)
    if dtype == "float64":
        return pd.Series(float("nan"), index=index, dtype=dtype)
    if dtype in ("boolean", ROW_KEY_DTYPE):
        return pd.Series(pd.NA, index=index, dtype=dtype)
    return pd.Series(None, index=index, dtype=object)
