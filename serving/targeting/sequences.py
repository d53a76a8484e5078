"""Outreach sequences: up to five attempts per patient across channels, re-planned from outcomes.

Why one step function: a plan made when a campaign starts and the attempt that is due today
after three weeks of outcomes are the same question — "given what was sent and how the patient
reacted so far, which channel next, and when?" :func:`next_attempts` answers it for every
member at once (vectorised, no per-patient loop); :func:`plan_sequences` asks it repeatedly
assuming no reaction, and :func:`due_attempts` asks it once from the state the posted outcomes
describe (:func:`sequence_state`).

The rules (``settings.policy.sequences`` holds the numbers):

* the channel of attempt k is the one with the highest expected incremental value
  (booking probability for attempt k *given no response to the attempts before it*, from an
  :class:`AttemptModel`, times the visit's expected revenue, minus the channel's cost), so a
  channel is repeated only while it stays the best, and a patient who ignores texts is
  emailed next;
* a phone call is planned only when its expected incremental value covers its cost;
* a sequence uses at least two channels whenever two or more are worth using: the last
  attempt of a one-channel sequence goes to the best other channel;
* attempts are ``min_gap_days``..``max_gap_days`` apart (later gaps longer); within a running
  sequence that spacing replaces the policy's days-between-contacts rule; the contact cap
  (``policy.max_contacts`` within ``policy.max_contacts_window_days``) counts every attempt;
* only permitted channels (consent, no opt-out; the caller folds in do-not-contact and
  deceased by permitting nothing); a ``booked`` ends the sequence, an ``opted_out`` removes
  that channel, a ``replied`` without a booking moves the next attempt to a phone call when
  allowed; a finished sequence without a booking rests the patient ``rest_days``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.config import SequenceConfig
from features.vocabulary import CHANNELS, PHONE

PHONE_CODE = CHANNELS.index(PHONE)
NO_CHANNEL = -1

# (base probabilities (n, C), unanswered attempts per channel (n, C), attempt number k) ->
# booking probability of attempt k on each channel (n, C).
AttemptModel = Callable[[np.ndarray, np.ndarray, int], np.ndarray]


@dataclass(frozen=True)
class SequenceInputs:
    """What the planner knows of each member (rows aligned).

    Attributes:
        probabilities: (n, C) P(booking | contacted on c) as a first attempt; NaN unknown.
        permitted: (n, C) channels the policy allows (all False: not contactable).
        value: (n,) expected revenue of the visit a booking brings (NaN: unknown, taken as 0).
        recent_contacts: (n,) contacts already in the cap window before the campaign.
        uplift: (n, C) incremental booking probability of a first attempt, or None to use
            ``probabilities`` (no uplift model: the probability stands in for the gain).
    """

    probabilities: np.ndarray
    permitted: np.ndarray
    value: np.ndarray
    recent_contacts: np.ndarray
    uplift: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.value)


@dataclass
class SequenceState:
    """Where each member's sequence stands (rows aligned with the inputs).

    Attributes:
        sent: (n,) attempts sent so far.
        last_sent: (n,) day of the latest attempt (NaT when none).
        unanswered: (n, C) attempts per channel that got no reaction.
        used: (n, C) channels used so far.
        opted_out: (n, C) channels the member opted out of during the campaign.
        replied: (n,) the member reacted to the latest attempt without booking.
        booked: (n,) the member booked after joining the campaign.
    """

    sent: np.ndarray
    last_sent: np.ndarray
    unanswered: np.ndarray
    used: np.ndarray
    opted_out: np.ndarray
    replied: np.ndarray
    booked: np.ndarray

    @classmethod
    def fresh(cls, n: int) -> SequenceState:
        """The state of members nobody has contacted yet."""
        c = len(CHANNELS)
        return cls(
            sent=np.zeros(n, np.int64), last_sent=np.full(n, np.datetime64("NaT"), "M8[D]"),
            unanswered=np.zeros((n, c), np.int64), used=np.zeros((n, c), bool),
            opted_out=np.zeros((n, c), bool), replied=np.zeros(n, bool),
            booked=np.zeros(n, bool),
        )


def gap_after(attempt: int | np.ndarray, config: SequenceConfig) -> np.ndarray:
    """Days between attempt k and k+1: from ``min_gap_days`` rising to ``max_gap_days``."""
    steps = max(config.max_attempts - 2, 1)
    share = np.clip((np.asarray(attempt) - 1) / steps, 0.0, 1.0)
    return np.rint(config.min_gap_days + share * (config.max_gap_days - config.min_gap_days)
                   ).astype(np.int64)


def budget(inputs: SequenceInputs, config: SequenceConfig, max_contacts: int) -> np.ndarray:
    """Attempts each member may get: ``max_attempts``, less what the contact cap leaves."""
    recent = np.nan_to_num(np.asarray(inputs.recent_contacts, dtype=float)).astype(np.int64)
    return np.clip(np.minimum(config.max_attempts, max_contacts - recent), 0, None)


def next_attempts(
    inputs: SequenceInputs,
    state: SequenceState,
    start: np.ndarray,
    costs: np.ndarray,
    model: AttemptModel,
    config: SequenceConfig,
    max_contacts: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The next attempt of every member: its channel code (-1: none) and its send day.

    Args:
        inputs: the members' probabilities, permissions and value.
        state: what happened so far (:meth:`SequenceState.fresh` for a new campaign).
        start: (n,) datetime64[D] day each member's first attempt is due.
        costs: (C,) cost of one contact per channel.
        model: booking probability of attempt k given the unanswered attempts before it.
        config: the sequence settings.
        max_contacts: the policy's contact cap.

    Returns:
        ``(channel, send_on)``: int64 codes into ``CHANNELS`` (-1 where the sequence is over)
        and datetime64[D] days (NaT where there is no next attempt).
    """
    k = state.sent + 1
    channel = np.full(len(inputs), NO_CHANNEL, dtype=np.int64)
    allowed = np.asarray(inputs.permitted, bool) & ~state.opted_out
    live = ~state.booked & (k <= budget(inputs, config, max_contacts)) & allowed.any(axis=1)
    value = np.nan_to_num(np.asarray(inputs.value, dtype=float))
    for attempt in np.unique(k[live]):
        rows = np.flatnonzero(live & (k == attempt))
        gain = _gain(inputs, state, rows, int(attempt), model)
        worth = value[rows, None] * gain - costs[None, :]
        ok = allowed[rows].copy()
        ok[:, PHONE_CODE] &= worth[:, PHONE_CODE] >= 0
        last = attempt == budget(inputs, config, max_contacts)[rows]
        one_so_far = state.used[rows].sum(axis=1) == 1
        fresh = ok & ~state.used[rows]
        force_new = last & one_so_far & fresh.any(axis=1)
        ok = np.where(force_new[:, None], fresh, ok)
        score = np.where(ok, np.nan_to_num(worth, nan=-1e9), -np.inf)
        pick = np.argmax(score, axis=1)
        pick = np.where(ok.any(axis=1), pick, NO_CHANNEL)
        replied = state.replied[rows] & allowed[rows, PHONE_CODE]
        channel[rows] = np.where(replied, PHONE_CODE, pick)
    gaps = gap_after(np.maximum(state.sent, 1), config).astype("m8[D]")
    after_last = state.last_sent + gaps
    send_on = np.where(state.sent > 0, after_last, np.asarray(start, "M8[D]"))
    send_on = np.where(channel >= 0, send_on, np.datetime64("NaT"))
    return channel, send_on.astype("M8[D]")


def _gain(inputs: SequenceInputs, state: SequenceState, rows: np.ndarray, attempt: int,
          model: AttemptModel) -> np.ndarray:
    """Incremental booking probability of attempt ``attempt`` for ``rows``, per channel.

    The attempt model scales the first-attempt probability for what went unanswered; with an
    uplift model the uplift is scaled by the same factor (the contact's effect fades the way
    its response does).
    """
    base = np.asarray(inputs.probabilities, dtype=float)[rows]
    p = model(base, state.unanswered[rows], attempt)
    if inputs.uplift is None:
        return p
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(base > 0, p / base, 0.0)
    return np.asarray(inputs.uplift, dtype=float)[rows] * factor


def plan_sequences(
    inputs: SequenceInputs,
    start: pd.Timestamp,
    costs: np.ndarray,
    model: AttemptModel,
    config: SequenceConfig,
    max_contacts: int,
) -> pd.DataFrame:
    """The planned attempts of every member, assuming no reaction to any of them.

    Returns:
        Frame with one row per planned attempt: ``member`` (row of ``inputs``), ``attempt``
        (1-based), ``channel`` (name from ``CHANNELS``), ``send_on`` (datetime64[D]); sorted
        by member then attempt. Members with no allowed channel have no rows.
    """
    n = len(inputs)
    state = SequenceState.fresh(n)
    first = np.full(n, np.datetime64(pd.Timestamp(start).date(), "D"))
    parts = []
    for _ in range(config.max_attempts):
        channel, send_on = next_attempts(inputs, state, first, costs, model, config,
                                         max_contacts)
        rows = np.flatnonzero(channel >= 0)
        if not len(rows):
            break
        parts.append(pd.DataFrame({"member": rows, "attempt": state.sent[rows] + 1,
                                   "channel": np.asarray(CHANNELS, dtype=object)[channel[rows]],
                                   "send_on": send_on[rows]}))
        state.sent[rows] += 1
        state.last_sent[rows] = send_on[rows]
        state.unanswered[rows, channel[rows]] += 1
        state.used[rows, channel[rows]] = True
    if not parts:
        return pd.DataFrame({"member": np.zeros(0, np.int64), "attempt": np.zeros(0, np.int64),
                             "channel": np.zeros(0, object),
                             "send_on": np.zeros(0, "M8[D]")})
    plan = pd.concat(parts, ignore_index=True)
    return plan.sort_values(["member", "attempt"], ignore_index=True)


def sequence_state(
    members: pd.DataFrame, events: pd.DataFrame, campaign_id: str
) -> SequenceState:
    """What the posted outcomes say about each member's sequence.

    Args:
        members: the campaign's treatment members (``patient_id``, ``assigned_at``), in the
            order of the planner's inputs.
        events: outcome events (``patient_id``, ``campaign_id``, ``channel``, ``type``,
            ``at``); events of other campaigns count only for ``booked`` (a booking made
            any way ends the sequence).
        campaign_id: the campaign.

    Returns:
        The state aligned with ``members``.
    """
    n = len(members)
    state = SequenceState.fresh(n)
    if events is None or events.empty or n == 0:
        return state
    position = pd.Index(members["patient_id"].astype(object))
    pos = position.get_indexer(events["patient_id"].astype(object))
    ev = events.assign(member=pos).loc[pos >= 0]
    if "assigned_at" in members.columns:
        since = members["assigned_at"].to_numpy("M8[ns]")[ev["member"].to_numpy()]
        ev = ev.loc[ev["at"].to_numpy("M8[ns]") >= since]
    mine = ev.loc[ev["campaign_id"].astype(object).eq(campaign_id).to_numpy()]
    booked = ev.loc[ev["type"].eq("booked").to_numpy(), "member"].to_numpy()
    state.booked[booked] = True
    code = pd.Index(CHANNELS).get_indexer(mine["channel"].astype(object))
    mine = mine.assign(code=code)
    sent = mine.loc[mine["type"].eq("sent").to_numpy() & (code >= 0)].sort_values("at")
    if len(sent):
        counts = sent.groupby("member").size()
        state.sent[counts.index.to_numpy()] = counts.to_numpy()
        last = sent.groupby("member")["at"].max()
        state.last_sent[last.index.to_numpy()] = last.to_numpy().astype("M8[D]")
        np.add.at(state.unanswered, (sent["member"].to_numpy(), sent["code"].to_numpy()), 1)
        state.used[sent["member"].to_numpy(), sent["code"].to_numpy()] = True
    reacted = mine.loc[mine["type"].isin(("replied", "clicked")).to_numpy()]
    if len(reacted):
        # a reaction answers the latest attempt sent before it
        answered = pd.merge_asof(
            reacted.sort_values("at")[["member", "at"]],
            sent[["member", "at", "code"]].rename(columns={"at": "sent_at"}).sort_values("sent_at"),
            left_on="at", right_on="sent_at", by="member", direction="backward",
        ).dropna(subset=["code"])
        pairs = answered[["member", "code"]].drop_duplicates().astype(np.int64).to_numpy()
        state.unanswered[pairs[:, 0], pairs[:, 1]] = np.maximum(
            state.unanswered[pairs[:, 0], pairs[:, 1]] - 1, 0)
        latest_reply = reacted.groupby("member")["at"].max()
        last = state.last_sent[latest_reply.index.to_numpy()]
        state.replied[latest_reply.index.to_numpy()] = (
            latest_reply.to_numpy().astype("M8[D]") >= last)
    out = mine.loc[mine["type"].eq("opted_out").to_numpy() & (code >= 0)]
    state.opted_out[out["member"].to_numpy(), out["code"].to_numpy()] = True
    return state


def due_attempts(
    inputs: SequenceInputs,
    state: SequenceState,
    start: pd.Timestamp,
    on: pd.Timestamp,
    costs: np.ndarray,
    model: AttemptModel,
    config: SequenceConfig,
    max_contacts: int,
) -> pd.DataFrame:
    """Attempts to send on day ``on``, re-planned from ``state``.

    An attempt is due from its planned day until it is sent; one planned for later is not.

    Returns:
        Frame ``member``, ``attempt``, ``channel``, ``send_on`` of the attempts due on ``on``.
    """
    first = np.full(len(inputs), np.datetime64(pd.Timestamp(start).date(), "D"))
    channel, send_on = next_attempts(inputs, state, first, costs, model, config, max_contacts)
    today = np.datetime64(pd.Timestamp(on).date(), "D")
    rows = np.flatnonzero((channel >= 0) & (send_on <= today))
    return pd.DataFrame({
        "member": rows, "attempt": state.sent[rows] + 1,
        "channel": np.asarray(CHANNELS, dtype=object)[channel[rows]], "send_on": send_on[rows],
    })


def resting_until(
    inputs: SequenceInputs, state: SequenceState, config: SequenceConfig, max_contacts: int
) -> np.ndarray:
    """Day until which a member whose sequence ended without a booking rests (NaT: none).

    Another campaign may list the member only after that day.
    """
    allowed = np.asarray(inputs.permitted, bool) & ~state.opted_out
    finished = (state.sent >= budget(inputs, config, max_contacts)) | ~allowed.any(axis=1)
    rest = finished & (state.sent > 0) & ~state.booked
    until = state.last_sent + np.timedelta64(config.rest_days, "D")
    return np.where(rest, until, np.datetime64("NaT")).astype("M8[D]")


def fatigue_model(same_channel: float, other_channel: float) -> AttemptModel:
    """An attempt model that scales the first-attempt probability per unanswered attempt.

    Each unanswered attempt on channel c multiplies c's probability by ``same_channel`` and
    every other channel's by ``other_channel`` (patients who ignore one channel are a little
    less likely to answer any). ``training.attempt_model`` fits the two factors from the
    contact history.
    """
    def model(base: np.ndarray, unanswered: np.ndarray, attempt: int) -> np.ndarray:
        total = unanswered.sum(axis=1, keepdims=True)
        return base * same_channel ** unanswered * other_channel ** (total - unanswered)

    return model
