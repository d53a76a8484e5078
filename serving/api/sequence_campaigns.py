"""Sequence campaigns: the plan ``POST /campaigns`` returns, the ``GET .../due`` list, the rest.

Why state kept in memory: the due list of a day is re-planned from *every* outcome posted so
far, for every treatment member, and must change on the very next call after a post. The
service reads the clinic's events from its coded event log
(:class:`features.outcomes.event_log.EventLog`: read from the store once, then extended by
each stored batch), and per campaign its treatment members (read once: members never change).
The planner's answer for a campaign (:func:`serving.targeting.sequences.next_attempts` from
:func:`~serving.targeting.sequences.sequence_state`) is computed for every member once per
(snapshot, model); after a batch only the members it touched are re-planned, so the first due
list after a post costs in proportion to the batch, not to the campaign. A day's due list is
then a mask over it.

What a sequence reads: the served snapshot's ``p_<channel>``, ``expected_revenue_per_visit``,
``uplift_<channel>`` and cap-window count; the policy's channel permissions *without* the
spacing and cap rules (the planner's gaps and budget replace them within the sequence; opt-outs
posted from any source still remove a channel); the contacts posted before the campaign
started; the bundle's attempt factors. The same members are kept off other campaigns' lists
while their sequence runs and ``rest_days`` after it ended without a booking (the policy
overlay, :mod:`serving.targeting.outcome_policy`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading

import numpy as np
import pandas as pd

from features.config import Settings
from features.outcomes.event_log import EventLog, LogView
from features.outcomes.store import OutcomeStore
from features.vocabulary import CHANNELS, OUTCOME_TYPES, TREATMENT
from serving.api.state import Served
from serving.targeting import sequence_inputs as si
from serving.targeting.outcome_policy import OutcomeOverlay
from serving.targeting.sequences import (
    SequenceInputs,
    next_attempts,
    plan_sequences,
    resting_until,
    sequence_state,
)

SEQUENCE_EVENT_TYPES: tuple[str, ...] = ("sent", "replied", "clicked", "opted_out", "booked")
BOOKED = OUTCOME_TYPES.index("booked")
RUNNING = np.datetime64("9999-12-31", "D")  # kept off other lists for as long as it runs


@dataclasses.dataclass(frozen=True)
class Campaign:
    """A recorded sequence campaign and its treatment members (in member order)."""

    campaign_id: str
    started_at: pd.Timestamp
    start: pd.Timestamp  # day of the first attempts
    channels: list[str] | None
    members: pd.DataFrame  # patient_id, assigned_at
    numbers: np.ndarray  # each member's number in the clinic's event log


@dataclasses.dataclass(frozen=True)
class Progress:
    """Every treatment member's next attempt, re-planned from the outcomes so far."""

    patient_ids: np.ndarray
    attempt: np.ndarray
    channel: np.ndarray  # code into CHANNELS, -1: the sequence is over
    send_on: np.ndarray  # datetime64[D], NaT with no next attempt
    kept_off_until: np.ndarray  # datetime64[D] last day other lists skip the member, NaT: none
    records: np.ndarray | None = None  # each member's due record as JSON bytes (None: none)


def due_records(patient_ids: np.ndarray, attempt: np.ndarray,
                channel: np.ndarray) -> np.ndarray:
    """Each member's ``{"patient_id", "attempt", "channel"}`` as JSON bytes (None without a
    next attempt): made once per member and re-made only for the members a batch re-plans,
    so a day's due list of hundreds of thousands of attempts is a join, not a serialisation.
    """
    names = [json.dumps(c) for c in CHANNELS]
    out = np.full(len(patient_ids), None, dtype=object)
    for i in np.flatnonzero(channel >= 0):
        out[i] = (f'{{"patient_id":{json.dumps(str(patient_ids[i]))},'
                  f'"attempt":{int(attempt[i])},"channel":{names[channel[i]]}}}').encode()
    return out


def start_day(record: dict) -> pd.Timestamp:
    """Day of a campaign's first attempts: its request's ``on``, else the day it started."""
    on = record["request"].get("on")
    return pd.Timestamp(on) if on else pd.Timestamp(record["started_at"]).normalize()


def is_sequence(record: dict | None) -> bool:
    """Whether a stored campaign record asked for sequences."""
    return bool(record and record["request"].get("sequence"))


def member_rows(served: Served, clinic_id: str, patient_ids: np.ndarray) -> np.ndarray:
    """Snapshot row of each patient of the clinic (-1: not in the served snapshot)."""
    entry = served.index.clinics.get(clinic_id)
    if entry is None:
        return np.full(len(patient_ids), -1, np.int64)
    position = entry.position.reindex(pd.Index(patient_ids, dtype=object)).to_numpy(float)
    known = ~np.isnan(position)
    rows = np.full(len(patient_ids), -1, np.int64)
    rows[known] = entry.orders["probability"].rows[position[known].astype(np.int64)]
    return rows


def campaign_inputs(
    served: Served, overlay: OutcomeOverlay, clinic_id: str, patient_ids: np.ndarray,
    permitted: np.ndarray, rows: np.ndarray, start: pd.Timestamp, started_at: pd.Timestamp,
    channels: list[str] | None, settings: Settings,
) -> SequenceInputs:
    """Planner inputs: the snapshot's figures plus the contacts posted before the start."""
    ids = pd.Index(patient_ids, dtype=object)
    recent = si.snapshot_contacts(served.index, rows, settings) + overlay.recent_sends(
        clinic_id, ids, start.date(), started_at, served.as_of)
    return si.build_inputs(served.index, rows, permitted, recent, channels)


def plan_treatment(
    served: Served, overlay: OutcomeOverlay, clinic_id: str, rows: np.ndarray,
    start: pd.Timestamp, started_at: pd.Timestamp, channels: list[str] | None,
    settings: Settings,
) -> list[list[dict]]:
    """The planned attempts of a new campaign's treatment rows (``POST /campaigns``)."""
    ids = served.index.outputs["patient_id"][rows]
    permitted = si.unpack_bits(served.index.channel_bits[rows])
    inputs = campaign_inputs(served, overlay, clinic_id, ids, permitted, rows, start,
                             started_at, channels, settings)
    plan = plan_sequences(inputs, start, si.costs(settings), si.attempt_model(served.bundle),
                          settings.policy.sequences, settings.policy.max_contacts)
    return si.sequence_lists(plan, len(rows))


@dataclasses.dataclass(frozen=True)
class _Planned:
    """A campaign's progress and what it reflects (the clinic log's version)."""

    progress: Progress
    version: int
    has_uplift: bool


class Sequences:
    """The per-campaign caches behind the due lists, over the service's coded event log.

    A campaign's progress is computed for every member once per served pair; after that,
    each stored batch re-plans only the members it touched (the planner is row by row: a
    member's next attempt depends on that member's inputs and outcomes alone).

    Args:
        settings: ``policy`` (and its ``sequences`` section).
        store: the outcome store.
        overlay: the policy overlay (opt-outs and sends posted from any source).
        log: the service's coded event log (every stored event).
    """

    def __init__(self, settings: Settings, store: OutcomeStore, overlay: OutcomeOverlay,
                 log: EventLog) -> None:
        self.settings = settings
        self.store = store
        self.overlay = overlay
        self.log = log
        self._campaigns: dict[tuple[str, str], tuple[dict, Campaign | None]] = {}
        self._sequence_ids: dict[str, list[str]] = {}
        self._progress: dict[tuple, _Planned] = {}
        self._lock = threading.RLock()

    def version(self, clinic_id: str) -> int:
        """Batches of the clinic folded into the log."""
        return self.log.clinic(clinic_id).version

    # --- campaigns ------------------------------------------------------------------------

    def started(self, clinic_id: str) -> None:
        """A campaign was recorded: the clinic's list of sequence campaigns is stale."""
        with self._lock:
            self._sequence_ids.pop(clinic_id, None)

    def campaign(self, clinic_id: str, campaign_id: str) -> tuple[dict | None, Campaign | None]:
        """The stored record and, for a sequence campaign, its members (both cached: a
        recorded campaign never changes)."""
        key = (clinic_id, campaign_id)
        with self._lock:
            cached = self._campaigns.get(key)
            if cached is not None:
                return cached
            record = self.store.campaign(clinic_id, campaign_id)
            if record is None:
                return None, None
            found = None
            if is_sequence(record):
                members = self.store.members_frame(clinic_id, campaign_id)
                members = members.loc[members["arm"].eq(TREATMENT).to_numpy(),
                                      ["patient_id", "assigned_at"]].reset_index(drop=True)
                with self.log.lock:
                    numbers = self.log.clinic(clinic_id).number(
                        members["patient_id"].to_numpy(object))
                found = Campaign(campaign_id, record["started_at"], start_day(record),
                                 record["request"].get("channels"), members, numbers)
            self._campaigns[key] = (record, found)
            return record, found

    def sequence_campaigns(self, clinic_id: str) -> list[Campaign]:
        """The clinic's sequence campaigns."""
        with self._lock:
            ids = self._sequence_ids.get(clinic_id)
            if ids is None:
                ids = [c for c in sorted(self.store.campaign_ids(clinic_id))
                       if self.campaign(clinic_id, c)[1] is not None]
                self._sequence_ids[clinic_id] = ids
        return [self.campaign(clinic_id, c)[1] for c in ids]

    # --- re-planning ----------------------------------------------------------------------

    def progress(self, served: Served, clinic_id: str, campaign: Campaign) -> Progress:
        """Every member's next attempt from the outcomes so far (the members a batch touched
        re-planned; all of them for a new served pair)."""
        key = (served.snapshot_key, served.version, clinic_id, campaign.campaign_id)
        with self._lock:
            with self.log.lock:
                clinic = self.log.clinic(clinic_id)
                view = clinic.view()
                names = np.asarray([*clinic.campaigns, None], dtype=object)
                patient_ids = clinic.ids
                touched = None
                cached = self._progress.get(key)
                if cached is not None:
                    touched = clinic.touched_since(cached.version)
            if cached is not None and touched is not None and not len(touched):
                return cached.progress
            member_of = np.full(len(patient_ids), -1, np.int64)
            member_of[campaign.numbers] = np.arange(len(campaign.numbers))
            if cached is None or touched is None:
                which = np.arange(len(campaign.numbers))
                planned = self._plan(served, clinic_id, campaign, which, view, names,
                                     patient_ids, member_of, None)
                has_uplift = planned[-1]
                ids = campaign.members["patient_id"].to_numpy(object)
                progress = Progress(ids, *planned[:-1],
                                    due_records(ids, planned[0], planned[1]))
            else:
                which = member_of[touched[touched < len(member_of)]]
                which = np.sort(which[which >= 0])
                has_uplift = cached.has_uplift
                progress = cached.progress
                if len(which):
                    planned = self._plan(served, clinic_id, campaign, which, view, names,
                                         patient_ids, member_of, has_uplift)
                    progress = _patched(progress, which, planned[:-1])
            stale = [k for k in self._progress if k[2:4] == key[2:4]]
            for k in stale:
                del self._progress[k]
            self._progress[key] = _Planned(progress, view.version, has_uplift)
            return progress

    def _plan(self, served: Served, clinic_id: str, campaign: Campaign, which: np.ndarray,
              view: LogView, names: np.ndarray, patient_ids: np.ndarray,
              member_of: np.ndarray, has_uplift: bool | None) -> tuple:
        """Next attempt, channel, day and kept-off day of members ``which``, and whether the
        inputs had an uplift (``has_uplift``: what the whole campaign's inputs had)."""
        settings = self.settings
        members = campaign.members.iloc[which]
        ids = members["patient_id"].to_numpy(object)
        rows = member_rows(served, clinic_id, ids)
        permitted = si.never_permitted(served.index, rows) & ~self.overlay.opted_out(
            clinic_id, pd.Index(ids, dtype=object))
        inputs = campaign_inputs(served, self.overlay, clinic_id, ids, permitted, rows,
                                 campaign.start, campaign.started_at, campaign.channels,
                                 settings)
        if has_uplift and inputs.uplift is None:  # these members' uplift is all unknown
            inputs = dataclasses.replace(inputs, uplift=np.full(inputs.probabilities.shape,
                                                                np.nan))
        wanted = np.zeros(len(member_of) + 1, bool)
        wanted[campaign.numbers[which]] = True
        events = campaign_events(view, wanted, names, patient_ids, campaign.campaign_id)
        state = sequence_state(members, events, campaign.campaign_id)
        config, cap = settings.policy.sequences, settings.policy.max_contacts
        first = np.full(len(ids), np.datetime64(campaign.start.date(), "D"))
        channel, send_on = next_attempts(inputs, state, first, si.costs(settings),
                                         si.attempt_model(served.bundle), config, cap)
        kept_off = np.where(channel >= 0, RUNNING, resting_until(inputs, state, config, cap))
        return (state.sent + 1, channel, send_on, kept_off.astype("M8[D]"),
                inputs.uplift is not None)

    def kept_off(self, served: Served, clinic_id: str) -> tuple[pd.Series | None, object]:
        """Members other lists skip (last day, by patient id) and a key identifying them."""
        campaigns = self.sequence_campaigns(clinic_id)
        if not campaigns:
            return None, None
        parts = []
        for campaign in campaigns:
            p = self.progress(served, clinic_id, campaign)
            keep = ~np.isnat(p.kept_off_until)
            parts.append(pd.Series(p.kept_off_until[keep], index=p.patient_ids[keep]))
        until = pd.concat(parts)
        until = until.groupby(level=0).max() if until.index.has_duplicates else until
        key = (served.snapshot_key, served.version, self.version(clinic_id),
               tuple(c.campaign_id for c in campaigns))
        return until, key


def _patched(progress: Progress, which: np.ndarray, planned: tuple) -> Progress:
    """``progress`` with members ``which`` replaced (copies: a request in flight keeps its
    own)."""
    out = []
    records = due_records(progress.patient_ids[which], planned[0], planned[1])
    for name, values in zip(("attempt", "channel", "send_on", "kept_off_until", "records"),
                            (*planned, records), strict=True):
        array = getattr(progress, name).copy()
        array[which] = values
        out.append(array)
    return Progress(progress.patient_ids, *out)


def campaign_events(view: LogView, wanted: np.ndarray, names: np.ndarray,
                    patient_ids: np.ndarray, campaign_id: str) -> pd.DataFrame:
    """The sequence events of patients ``wanted`` (by clinic log number) that count for
    ``campaign_id``: its own, and bookings made any way (the columns ``sequence_state``
    reads; ``names``: the clinic's campaign ids by number, then None)."""
    campaign = {c: i for i, c in enumerate(names[:-1])}.get(campaign_id, -2)
    kind_ok = np.zeros(len(OUTCOME_TYPES) + 1, bool)
    kind_ok[[OUTCOME_TYPES.index(t) for t in SEQUENCE_EVENT_TYPES]] = True
    rows = np.flatnonzero(wanted[view.patient] & kind_ok[view.type_] & (
        (view.campaign == campaign) | (view.type_ == BOOKED)))
    channels = np.asarray([*CHANNELS, None], dtype=object)
    kinds = np.asarray(OUTCOME_TYPES, dtype=object)
    return pd.DataFrame({
        "patient_id": patient_ids[view.patient[rows]],
        "campaign_id": names[view.campaign[rows]],
        "channel": channels[view.channel[rows]],
        "type": kinds[view.type_[rows]],
        "at": view.at[rows].view("M8[ns]"),
    })


def due_rows(progress: Progress, on: dt.date) -> np.ndarray:
    """Members with an attempt to send on day ``on``: planned for it or earlier, not sent."""
    return np.flatnonzero((progress.channel >= 0)
                          & (progress.send_on <= np.datetime64(on, "D")))


def due_json_list(progress: Progress, on: dt.date) -> bytes:
    """The due list of day ``on`` as a JSON array (member order), from the cached records."""
    return b"[" + b",".join(progress.records[due_rows(progress, on)].tolist()) + b"]"


def due_frame(progress: Progress, on: dt.date) -> pd.DataFrame:
    """The attempts to send on day ``on``: planned for it or earlier and not sent yet.

    Returns:
        Frame ``patient_id``, ``attempt``, ``channel`` (name), in member order.
    """
    rows = due_rows(progress, on)
    return pd.DataFrame({
        "patient_id": progress.patient_ids[rows],
        "attempt": progress.attempt[rows],
        "channel": np.asarray(CHANNELS, dtype=object)[progress.channel[rows]],
    })
