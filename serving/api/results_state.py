"""``GET /campaigns/{id}/results`` from the service's memory: members and events already coded.

Why: the results of a 500,000-member campaign with two million events compute in well under a
second from integer arrays, but reading those rows back from the store took fourteen. So the
service holds each campaign's members (read once: a recorded campaign never changes) and the
clinic's events (:class:`features.outcomes.event_log.EventLog`, extended batch by batch), and
a request only codes the events by member number and computes
(:func:`training.campaign_results.results.coded_results`). The figures are the ones
``reactivate results --posted-only`` computes from the store: same members in the store's
order, same events in storage order, no exported visits.
"""

from __future__ import annotations

import dataclasses
import threading

import numpy as np
import pandas as pd

from features.config import Settings
from features.outcomes.event_log import EventLog, LogView
from features.outcomes.frames import campaign_sources, empty_visits
from features.outcomes.store import OutcomeStore
from features.vocabulary import COMPLETED, OUTCOME_TYPES
from training.campaign_results.frames import (
    Events,
    Members,
    member_segments,
    members_of,
    visits_of,
)
from training.campaign_results.results import coded_results


@dataclasses.dataclass(frozen=True)
class StoredMembers:
    """One campaign's members as the store lists them, and their numbers in the clinic log."""

    members: Members  # without segments
    patient: np.ndarray  # clinic log number of each member


def coded_events(view: LogView, member_of: np.ndarray, campaign: int) -> Events:
    """The events of the campaign's members, by member number (``member_of``: per clinic
    log number, -1 for patients outside the campaign); ``campaign`` is the campaign's
    number in the clinic log (-1: no event names it)."""
    known = view.patient < len(member_of)
    member = np.where(known, member_of[np.where(known, view.patient, 0)], -1)
    keep = np.flatnonzero(member >= 0)
    type_ = view.type_[keep].astype(np.int64)
    if (type_ < 0).any():
        raise ValueError(f"outcome_events.type: must be one of {OUTCOME_TYPES} "
                         f"({int((type_ < 0).sum())} rows are not)")
    campaign_of = view.campaign[keep]
    return Events(
        member=member[keep], type_=type_, at=view.at[keep],
        channel=view.channel[keep].astype(np.int64),
        ours=(campaign_of == campaign) if campaign >= 0 else np.zeros(len(keep), bool),
        revenue=view.revenue[keep], cost=view.cost[keep],
    )


class CampaignResults:
    """Stored campaigns' members in memory, and their results on request.

    Args:
        settings: the attribution window and channel costs.
        store: the outcome store (members are read from it once per campaign).
        log: the service's coded event log.
    """

    def __init__(self, settings: Settings, store: OutcomeStore, log: EventLog) -> None:
        self.settings = settings
        self.store = store
        self.log = log
        self._members: dict[tuple[str, str], StoredMembers] = {}
        self._segments: dict[tuple[str, str], tuple[object, np.ndarray]] = {}
        self._lock = threading.Lock()

    def members(self, clinic_id: str, campaign_id: str) -> StoredMembers:
        """The campaign's members (read from the store on first use)."""
        key = (clinic_id, campaign_id)
        with self._lock:
            found = self._members.get(key)
            if found is None:
                frame = self.store.members_frame(clinic_id, campaign_id)
                members = members_of(frame, campaign_id, None)
                with self.log.lock:
                    patient = self.log.clinic(clinic_id).number(members.ids.to_numpy(object))
                found = self._members[key] = StoredMembers(members, patient)
            return found

    def preload(self) -> None:
        """Read every stored campaign's members (the service's start, off the request path)."""
        for clinic_id, campaign_id in self.store.campaign_keys():
            self.members(clinic_id, campaign_id)

    def _segment(self, key: tuple[str, str], members: Members, segments: pd.Series,
                 basis: object) -> np.ndarray:
        """Members' segments, looked up once per ``basis`` (the served snapshot index)."""
        cached = self._segments.get(key)
        if cached is None or cached[0] is not basis:
            cached = self._segments[key] = (basis, member_segments(members.ids, segments))
        return cached[1]

    def warm_segments(self, clinic_id: str, campaign_id: str, segments: pd.Series,
                      basis: object) -> None:
        """Look the campaign's members' segments up ahead of its first results request."""
        self._segment((clinic_id, campaign_id), self.members(clinic_id, campaign_id).members,
                      segments, basis)

    def results(self, clinic_id: str, campaign_id: str, segments: pd.Series,
                basis: object) -> dict:
        """The campaign's results from the posted events (every stored batch included).

        Args:
            segments: each patient's segment by patient id (the served snapshot).
            basis: what ``segments`` was made from: they are looked up again when it changes.
        """
        stored = self.members(clinic_id, campaign_id)
        self.log.catch_up()
        with self.log.lock:
            clinic = self.log.clinic(clinic_id)
            view = clinic.view()
            campaign = clinic.campaign_number(campaign_id)
            n_patients = len(clinic.ids)
        m = dataclasses.replace(stored.members, segment=self._segment(
            (clinic_id, campaign_id), stored.members, segments, basis))
        member_of = np.full(n_patients, -1, dtype=np.int64)
        member_of[stored.patient] = np.arange(m.n)
        ev = coded_events(view, member_of, campaign)
        vi = visits_of(empty_visits(), m, COMPLETED)
        results = coded_results(m, ev, vi, self.settings, campaign_id)
        return {**results, "sources": campaign_sources(False, True)}
