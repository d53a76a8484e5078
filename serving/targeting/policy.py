"""The contact policy: who may be put on an outreach list, and on which channels.

Plain functions over a scored snapshot (columns as in ``docs/interfaces.md``). The policy is
applied before ranking, so a patient the clinic may not contact never reaches a list:

* never ``do_not_contact`` or ``deceased`` patients, nor those with an appointment booked
  (unless ``policy.include_booked``);
* no patient contacted within the last ``policy.min_days_between_contacts`` days, nor one
  already contacted ``policy.max_contacts`` times within ``policy.max_contacts_window_days``
  (one more contact would exceed the cap);
* a channel only when ``training.channel_choice.channel_permissions`` permits it (consent,
  no opt-out; unknown consent never allows SMS) - the same rule scoring uses for the
  snapshot's ``best_channel``;
* the best channel (``training.channel_choice.choose_channels``) is always a permitted one;
  a patient with no permitted channel is not listed.

Day counts are taken at the snapshot's as-of date: ``days_since_last_contact`` of 0 means a
contact on the as-of day itself, so a patient is blocked while it is below the minimum gap.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from features.config import Settings
from features.vocabulary import CHANNELS
from training.channel_choice import flag_column, never_contact

PATIENT_RULES: tuple[str, ...] = (
    "do_not_contact",
    "deceased",
    "booked",
    "contacted_recently",
    "contact_cap_reached",
    "in_sequence",
)
# set by posted outcomes only (serving.targeting.outcome_policy): a member of a running or
# resting outreach sequence; a scored snapshot never sets it
SEQUENCE_RULE = "in_sequence"
NO_CHANNEL_RULE = "no_allowed_channel"


def _count(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A numeric column as float, NaN where unknown (a missing column is all unknown)."""
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def contacts_window_column(settings: Settings) -> str:
    """Name of the snapshot column counting contacts in the policy's cap window."""
    return f"contacts_{settings.policy.max_contacts_window_days}d"


def check_policy_columns(frame: pd.DataFrame, settings: Settings) -> None:
    """Refuse a snapshot that cannot support the configured contact cap.

    Every other policy input degrades to "unknown" when absent, but a cap window the snapshot
    does not count would silently disable the cap, so it is an error instead.

    Raises:
        ValueError: naming the missing column.
    """
    column = contacts_window_column(settings)
    if column not in frame.columns:
        raise ValueError(
            f"snapshot has no column {column!r} needed by policy.max_contacts_window_days"
        )


def patient_blocks(frame: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Patient-level rules that keep a patient off every list.

    Returns:
        Frame on ``frame``'s index with one boolean column per rule in ``PATIENT_RULES``
        (True: the rule blocks the patient). Unknown flags do not block; an unknown contact
        history means never contacted.
    """
    policy = settings.policy
    since_contact = _count(frame, "days_since_last_contact")
    recent = _count(frame, contacts_window_column(settings))
    booked = flag_column(frame, "has_booked_appointment", missing=False)
    never = never_contact(frame)
    blocks = {
        "do_not_contact": never["do_not_contact"].to_numpy(),
        "deceased": never["deceased"].to_numpy(),
        "booked": booked & (not policy.include_booked),
        "contacted_recently": since_contact < policy.min_days_between_contacts,
        "contact_cap_reached": recent >= policy.max_contacts,
        SEQUENCE_RULE: np.zeros(len(frame), dtype=bool),
    }
    return pd.DataFrame(blocks, index=frame.index)


def campaign_channels(channels: Sequence[str] | None) -> np.ndarray:
    """Boolean mask over ``CHANNELS`` of the channels a campaign will use (None: all)."""
    if channels is None:
        return np.ones(len(CHANNELS), dtype=bool)
    unknown = set(channels) - set(CHANNELS)
    if unknown:
        raise ValueError(f"unknown channels: {sorted(unknown)}")
    return np.isin(np.array(CHANNELS), list(channels))


def eligible(
    blocks: pd.DataFrame, permissions: pd.DataFrame, channels: Sequence[str] | None = None
) -> np.ndarray:
    """Patients that may be listed for a campaign on ``channels``.

    Returns:
        Boolean array: no patient-level rule blocks and at least one permitted campaign
        channel remains.
    """
    usable = permissions.to_numpy(dtype=bool) & campaign_channels(channels)
    return ~blocks.to_numpy(dtype=bool).any(axis=1) & usable.any(axis=1)


def blocking_rules(
    blocks: pd.DataFrame, permissions: pd.DataFrame, channels: Sequence[str] | None = None
) -> list[list[str]]:
    """Names of the rules excluding each patient (empty list: contactable).

    Used by ``/score`` to say why a named patient is not contactable; returns one list per
    row of ``blocks``.
    """
    usable = permissions.to_numpy(dtype=bool) & campaign_channels(channels)
    table = blocks.assign(**{NO_CHANNEL_RULE: ~usable.any(axis=1)})
    names = np.array(table.columns)
    hits = table.to_numpy(dtype=bool)
    return [names[row].tolist() for row in hits]
