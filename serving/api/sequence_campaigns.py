"""Sequence campaigns: the plan ``POST /campaigns`` returns, the ``GET .../due`` list, the rest.

Why state kept in memory: the due list of a day is re-planned from *every* outcome posted so
far, for every treatment member, and must change on the very next call after a post. The
service keeps, per clinic, the outcome events a sequence needs (sends, reactions, opt-outs,
bookings; read from the store once, then extended by each stored batch), and per campaign its
treatment members (read once: members never change). The planner's answer for a campaign
(:func:`serving.targeting.sequences.next_attempts` from
:func:`~serving.targeting.sequences.sequence_state`) is cached per (snapshot, model, events
version); a day's due list is then a mask over it.

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
import threading

import numpy as np
import pandas as pd

from features.config import Settings
from features.outcomes.store import OutcomeStore
from features.vocabulary import CHANNELS, TREATMENT
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
LOG_COLUMNS: tuple[str, ...] = ("patient_id", "campaign_id", "channel", "type", "at")
RUNNING = np.datetime64("9999-12-31", "D")  # kept off other lists for as long as it runs


@dataclasses.dataclass(frozen=True)
class Campaign:
    """A recorded sequence campaign and its treatment members (in member order)."""

    campaign_id: str
    started_at: pd.Timestamp
    start: pd.Timestamp  # day of the first attempts
    channels: list[str] | None
    members: pd.DataFrame  # patient_id, assigned_at


@dataclasses.dataclass(frozen=True)
class Progress:
    """Every treatment member's next attempt, re-planned from the outcomes so far."""

    patient_ids: np.ndarray
    attempt: np.ndarray
    channel: np.ndarray  # code into CHANNELS, -1: the sequence is over
    send_on: np.ndarray  # datetime64[D], NaT with no next attempt
    kept_off_until: np.ndarray  # datetime64[D] last day other lists skip the member, NaT: none


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


class Sequences:
    """The clinic event logs and per-campaign caches behind the due lists.

    Args:
        settings: ``policy`` (and its ``sequences`` section).
        store: the outcome store.
        overlay: the policy overlay (opt-outs and sends posted from any source).
    """

    def __init__(self, settings: Settings, store: OutcomeStore, overlay: OutcomeOverlay) -> None:
        self.settings = settings
        self.store = store
        self.overlay = overlay
        self._logs: dict[str, list[pd.DataFrame]] = {}
        self._versions: dict[str, int] = {}
        self._campaigns: dict[tuple[str, str], tuple[dict, Campaign | None]] = {}
        self._sequence_ids: dict[str, list[str]] = {}
        self._progress: dict[tuple, Progress] = {}
        self._lock = threading.RLock()

    # --- events ---------------------------------------------------------------------------

    def add(self, clinic_id: str, stored: pd.DataFrame) -> None:
        """Take in a stored batch (call under the service's write lock)."""
        with self._lock:
            self._versions[clinic_id] = self._versions.get(clinic_id, 0) + 1
            if clinic_id in self._logs and len(stored):
                relevant = stored[stored["type"].isin(SEQUENCE_EVENT_TYPES)]
                self._logs[clinic_id].append(relevant[list(LOG_COLUMNS)].copy())

    def events(self, clinic_id: str) -> pd.DataFrame:
        """The clinic's sequence events (read from the store on first use)."""
        with self._lock:
            parts = self._logs.get(clinic_id)
            if parts is None:
                frame = self.store.events_frame(clinic_id, types=SEQUENCE_EVENT_TYPES)
                parts = self._logs[clinic_id] = [frame[list(LOG_COLUMNS)]]
            if len(parts) > 1:
                parts[:] = [pd.concat(parts, ignore_index=True)]
            return parts[0]

    def version(self, clinic_id: str) -> int:
        """Batches stored for the clinic since the service started."""
        return self._versions.get(clinic_id, 0)

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
                found = Campaign(campaign_id, record["started_at"], start_day(record),
                                 record["request"].get("channels"), members)
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
        """Every member's next attempt from the outcomes so far (cached per events version)."""
        key = (served.snapshot_key, served.version, clinic_id, campaign.campaign_id,
               self.version(clinic_id))
        cached = self._progress.get(key)
        if cached is not None:
            return cached
        settings, members = self.settings, campaign.members
        ids = members["patient_id"].to_numpy(object)
        rows = member_rows(served, clinic_id, ids)
        permitted = si.never_permitted(served.index, rows) & ~self.overlay.opted_out(
            clinic_id, pd.Index(ids, dtype=object))
        inputs = campaign_inputs(served, self.overlay, clinic_id, ids, permitted, rows,
                                 campaign.start, campaign.started_at, campaign.channels,
                                 settings)
        events = self.events(clinic_id)
        kind = events["type"].to_numpy(object)
        mine = (events["campaign_id"].to_numpy(object) == campaign.campaign_id) | (
            kind == "booked")
        state = sequence_state(members, events.loc[mine], campaign.campaign_id)
        config, cap = settings.policy.sequences, settings.policy.max_contacts
        first = np.full(len(ids), np.datetime64(campaign.start.date(), "D"))
        channel, send_on = next_attempts(inputs, state, first, si.costs(settings),
                                         si.attempt_model(served.bundle), config, cap)
        kept_off = np.where(channel >= 0, RUNNING, resting_until(inputs, state, config, cap))
        progress = Progress(ids, state.sent + 1, channel, send_on, kept_off.astype("M8[D]"))
        with self._lock:
            stale = [k for k in self._progress if k[2:4] == key[2:4]]
            for k in stale:
                del self._progress[k]
            self._progress[key] = progress
        return progress

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


def due_frame(progress: Progress, on: dt.date) -> pd.DataFrame:
    """The attempts to send on day ``on``: planned for it or earlier and not sent yet.

    Returns:
        Frame ``patient_id``, ``attempt``, ``channel`` (name), in member order.
    """
    today = np.datetime64(on, "D")
    rows = np.flatnonzero((progress.channel >= 0) & (progress.send_on <= today))
    return pd.DataFrame({
        "patient_id": progress.patient_ids[rows],
        "attempt": progress.attempt[rows],
        "channel": np.asarray(CHANNELS, dtype=object)[progress.channel[rows]],
    })
