"""Campaign members, outcome events and exported visits as integer-coded numpy arrays.

The results are counts of distinct patients over a few million rows, so string ids are
looked up once here in the members' index (one hash probe per row) and every later step is
``bincount`` and sorted-array arithmetic on member numbers (positions in the campaign's
member list). Bad input raises a ``ValueError`` naming the table, column and rule, never a patient id.
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

    @property
    def n(self) -> int:
        """How many members the campaign has."""
        return len(self.ids)


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
    m = members[members["campaign_id"].to_numpy() == campaign_id]
    if len(m) == 0:
        raise ValueError(f"campaign_members: no member has campaign_id {campaign_id!r}")
    ids = pd.Index(m["patient_id"].to_numpy(dtype=object))
    if not ids.is_unique:
        rows = np.flatnonzero(ids.duplicated()).size
        raise ValueError(f"campaign_members.patient_id: a patient is listed twice in one "
                         f"campaign ({rows} repeated rows)")
    arm = codes_in(m["arm"], ARMS)
    if (arm < 0).any():
        raise ValueError(f"campaign_members.arm: must be one of {ARMS} "
                         f"({int((arm < 0).sum())} rows are not)")
    assigned = _ns(m["assigned_at"])
    if (assigned == NAT).any():
        raise ValueError(f"campaign_members.assigned_at: required "
                         f"({int((assigned == NAT).sum())} rows are empty)")
    if segments is None:
        segment = np.full(len(ids), None, dtype=object)
    else:
        segment = segments.reindex(ids).to_numpy(dtype=object)
        segment = np.where(pd.isna(segment), None, segment)
    return Members(ids, arm, assigned, segment)


def events_of(events: pd.DataFrame, members: Members, campaign_id: str) -> Events:
    """The outcome events of the campaign's members, coded.

    Row order is irrelevant; event ids are checked for repeats where a repeat would change a
    figure (the campaign's sends, whose costs add up; counts of distinct patients cannot).
    """
    member = members.ids.get_indexer(events["patient_id"].to_numpy(dtype=object))
    keep = np.flatnonzero(member >= 0)
    type_ = codes_in(events["type"], OUTCOME_TYPES)[keep]
    if (type_ < 0).any():
        raise ValueError(f"outcome_events.type: must be one of {OUTCOME_TYPES} "
                         f"({int((type_ < 0).sum())} rows are not)")
    at = _ns(events["at"])[keep]
    if (at == NAT).any():
        raise ValueError(f"outcome_events.at: required ({int((at == NAT).sum())} rows are empty)")
    ours = events["campaign_id"].to_numpy(dtype=object)[keep] == campaign_id
    sends = ours & (type_ == OUTCOME_TYPES.index("sent"))
    ids = events["event_id"].to_numpy(dtype=object)[keep[sends]]
    if len(ids) and not pd.Index(ids).is_unique:
        raise ValueError("outcome_events.event_id: must be unique "
                         f"({int(pd.Index(ids).duplicated().sum())} repeated rows)")
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
    member = members.ids.get_indexer(visits["patient_id"].to_numpy(dtype=object)[recent])
    mine = member >= 0
    rows = recent[mine]
    status = visits["status"].to_numpy(dtype=object)[rows]
    kept = (status == completed) | pd.isna(status)  # a missing status means completed
    revenue = visits["revenue"].to_numpy(dtype=np.float64, na_value=np.nan)[rows]
    return Visits(member[mine], booked[rows], at[rows], kept, revenue)
