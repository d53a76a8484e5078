"""Campaign members, outcome events and exported visits as integer-coded numpy arrays.

The results are counts of distinct patients over a few million rows, so patients become
member numbers (positions in the campaign's member list) here and every later step is
``bincount`` and sorted-array arithmetic on them. Columns may come as plain strings or as
pandas categoricals (``features.outcomes.frames.coded``): patient ids that share one
dictionary across the three tables are joined on their integer codes without hashing a
string, and categorical type, channel and campaign columns are read from their codes.
Plain string columns are looked up in the members' index (one hash probe per row).
Bad input raises a ``ValueError`` naming the table, column and rule, never a patient id.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.pipeline.grouping import codes_in
from features.vocabulary import ARMS, CHANNELS, OUTCOME_TYPES, booking_moment

NAT = np.iinfo(np.int64).min  # int64 view of NaT


@dataclass(frozen=True)
class Members:
    """One campaign's members (position = member number).

    Attributes:
        ids: patient ids as an index (for coding the other tables).
        arm: code into ``ARMS`` per member.
        assigned: ``assigned_at`` as int64 nanoseconds.
        segment: segment label per member (object; ``None`` when unknown).
    """

    ids: pd.Index
    arm: np.ndarray
    assigned: np.ndarray
    segment: np.ndarray
    categories: pd.Index | None = None
    numbers: np.ndarray | None = None

    @property
    def n(self) -> int:
        """How many members the campaign has."""
        return len(self.ids)

    def numbers_of(self, patients: pd.Series) -> np.ndarray:
        """Member number of each row's patient (-1: not a member of the campaign).

        A categorical column sharing the members' dictionary (``categories``, with
        ``numbers`` the member number of each entry) costs one array lookup per row; another
        categorical costs one hash probe per distinct patient; plain text one per row.
        """
        if isinstance(patients.dtype, pd.CategoricalDtype):
            categories = patients.cat.categories
            if self.categories is not None and (
                    categories is self.categories or categories.equals(self.categories)):
                table = self.numbers
            else:
                table = self.ids.get_indexer(categories)
            return np.append(table, -1)[patients.cat.codes.to_numpy(np.int64)]
        return self.ids.get_indexer(patients.to_numpy(dtype=object))


@dataclass(frozen=True)
class Events:
    """Outcome events of the members (rows of other patients removed).

    Attributes:
        member: member number per row; type_: code into ``OUTCOME_TYPES``;
        at: int64 nanoseconds; channel: code into ``CHANNELS`` (-1 none);
        ours: tagged with the campaign being measured; revenue, cost: float (NaN missing).
    """

    member: np.ndarray
    type_: np.ndarray
    at: np.ndarray
    channel: np.ndarray
    ours: np.ndarray
    revenue: np.ndarray
    cost: np.ndarray

    def rows(self, mask: np.ndarray) -> Events:
        """The same arrays restricted to ``mask``."""
        return Events(*(getattr(self, f)[mask] for f in
                        ("member", "type_", "at", "channel", "ours", "revenue", "cost")))


@dataclass(frozen=True)
class Visits:
    """Exported visits of the members: booking moment, visit time, kept flag, revenue."""

    member: np.ndarray
    booked: np.ndarray
    at: np.ndarray
    kept: np.ndarray
    revenue: np.ndarray


def _ns(values: pd.Series) -> np.ndarray:
    """int64 nanoseconds of a datetime column (NaT becomes ``NAT``)."""
    return np.asarray(values, dtype="datetime64[ns]").view(np.int64)


def members_of(members: pd.DataFrame, campaign_id: str,
               segments: pd.Series | None) -> Members:
    """The members of ``campaign_id``, checked (one row per patient, known arm, a time)."""
    m = members[(members["campaign_id"] == campaign_id).to_numpy(dtype=bool)]
    if len(m) == 0:
        raise ValueError(f"campaign_members: no member has campaign_id {campaign_id!r}")
    ids = pd.Index(m["patient_id"].to_numpy(dtype=object))
    categories = numbers = None
    if isinstance(m["patient_id"].dtype, pd.CategoricalDtype):
        codes = m["patient_id"].cat.codes.to_numpy(np.int64)
        categories = m["patient_id"].cat.categories
        repeated = _repeated_codes(codes)
        numbers = np.full(len(categories), -1, dtype=np.int64)
        numbers[codes[codes >= 0]] = np.flatnonzero(codes >= 0)
    else:
        repeated = 0 if ids.is_unique else int(ids.duplicated().sum())
    if repeated:
        raise ValueError(f"campaign_members.patient_id: a patient is listed twice in one "
                         f"campaign ({repeated} repeated rows)")
    arm = codes_in(m["arm"], ARMS)
    if (arm < 0).any():
        raise ValueError(f"campaign_members.arm: must be one of {ARMS} "
                         f"({int((arm < 0).sum())} rows are not)")
    assigned = _ns(m["assigned_at"])
    if (assigned == NAT).any():
        raise ValueError(f"campaign_members.assigned_at: required "
                         f"({int((assigned == NAT).sum())} rows are empty)")
    return Members(ids, arm, assigned, member_segments(ids, segments), categories, numbers)


def member_segments(ids: pd.Index, segments: pd.Series | None) -> np.ndarray:
    """Each member's segment label (object; None when unknown or without ``segments``)."""
    if segments is None:
        return np.full(len(ids), None, dtype=object)
    segment = segments.reindex(ids).to_numpy(dtype=object)
    return np.where(pd.isna(segment), None, segment)


def _repeated_codes(codes: np.ndarray) -> int:
    """Rows repeating an earlier row's code (missing, -1, counts as one value too)."""
    if not len(codes):
        return 0
    counts = np.bincount(codes + 1)
    return int((counts[counts > 1] - 1).sum())


def _repeated(values: pd.Series, rows: np.ndarray) -> int:
    """Rows among ``rows`` repeating an earlier one's value."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return _repeated_codes(values.cat.codes.to_numpy(np.int64)[rows])
    ids = pd.Index(values.to_numpy(dtype=object)[rows])
    return 0 if ids.is_unique else int(ids.duplicated().sum())


def events_of(events: pd.DataFrame, members: Members, campaign_id: str) -> Events:
    """The outcome events of the campaign's members, coded.

    Row order is irrelevant; event ids are checked for repeats where a repeat would change a
    figure (the campaign's sends, whose costs add up; counts of distinct patients cannot).
    """
    member = members.numbers_of(events["patient_id"])
    keep = np.flatnonzero(member >= 0)
    type_ = codes_in(events["type"], OUTCOME_TYPES)[keep]
    if (type_ < 0).any():
        raise ValueError(f"outcome_events.type: must be one of {OUTCOME_TYPES} "
                         f"({int((type_ < 0).sum())} rows are not)")
    at = _ns(events["at"])[keep]
    if (at == NAT).any():
        raise ValueError(f"outcome_events.at: required ({int((at == NAT).sum())} rows are empty)")
    ours = (events["campaign_id"] == campaign_id).to_numpy(dtype=bool)[keep]
    sends = ours & (type_ == OUTCOME_TYPES.index("sent"))
    repeated = _repeated(events["event_id"], keep[sends])
    if repeated:
        raise ValueError(f"outcome_events.event_id: must be unique ({repeated} repeated rows)")
    return Events(
        member=member[keep], type_=type_, at=at,
        channel=codes_in(events["channel"], CHANNELS)[keep],
        ours=ours,
        revenue=events["revenue"].to_numpy(dtype=np.float64, na_value=np.nan)[keep],
        cost=events["cost"].to_numpy(dtype=np.float64, na_value=np.nan)[keep],
    )


def visits_of(visits: pd.DataFrame, members: Members, completed: str) -> Visits:
    """Exported visits of the members booked or held on or after the first assignment."""
    start = members.assigned.min()
    at = _ns(visits["visit_at"])
    booked = booking_moment(visits["booked_at"].to_numpy(), at.view("datetime64[ns]"))
    booked = booked.view(np.int64)
    recent = np.flatnonzero((booked >= start) | (at >= start))
    member = members.numbers_of(visits["patient_id"].iloc[recent])
    mine = member >= 0
    rows = recent[mine]
    status = visits["status"].to_numpy(dtype=object)[rows]
    kept = (status == completed) | pd.isna(status)  # a missing status means completed
    revenue = visits["revenue"].to_numpy(dtype=np.float64, na_value=np.nan)[rows]
    return Visits(member[mine], booked[rows], at[rows], kept, revenue)
