"""What the sequence planner is fed from a served snapshot, and its plan as response records.

Why a module apart from :mod:`serving.targeting.sequences`: the planner is plain arrays;
this file knows where those arrays live in the scored snapshot (``p_<channel>``, the
policy's channel bits, ``expected_revenue_per_visit``, ``uplift_<channel>``, the cap
window's contact count) and how the bundle's learned attempt factors become the planner's
:data:`~serving.targeting.sequences.AttemptModel`. Everything is vectorised over members.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.config import Settings
from features.vocabulary import CHANNELS
from serving.targeting.index import SnapshotIndex
from serving.targeting.policy import campaign_channels, contacts_window_column
from serving.targeting.sequences import AttemptModel, SequenceInputs, fatigue_model
from training.attempt_model import prior_factors
from training.channel_choice import channel_costs

VALUE_COLUMN = "expected_revenue_per_visit"
NEVER_RULES: tuple[str, ...] = ("do_not_contact", "deceased")


def attempt_model(bundle: object) -> AttemptModel:
    """The planner's attempt model from the bundle's learned factors (the prior without)."""
    factors = getattr(bundle, "attempt_factors", None) or prior_factors()
    return fatigue_model(factors.same_channel, factors.other_channel)


def costs(settings: Settings) -> np.ndarray:
    """Cost of one contact per channel, in ``CHANNELS`` order (``policy.channel_costs``)."""
    return channel_costs(settings)


def unpack_bits(bits: np.ndarray) -> np.ndarray:
    """(n,) channel bit masks -> (n, C) booleans (bit i: channel i of ``CHANNELS``)."""
    return ((np.asarray(bits)[:, None] >> np.arange(len(CHANNELS))) & 1).astype(bool)


def snapshot_column(index: SnapshotIndex, rows: np.ndarray, column: str) -> np.ndarray:
    """A numeric snapshot column at ``rows`` (rows < 0 and a missing column: NaN)."""
    out = np.full(len(rows), np.nan)
    if column not in index.frame.columns:
        return out
    values = pd.to_numeric(index.frame[column], errors="coerce").to_numpy(float, na_value=np.nan)
    known = rows >= 0
    out[known] = values[rows[known]]
    return out


def uplift_matrix(index: SnapshotIndex, rows: np.ndarray) -> np.ndarray | None:
    """(n, C) ``uplift_<channel>`` at ``rows``, or None when the snapshot has no uplift."""
    names = [f"uplift_{c}" for c in CHANNELS]
    if not all(n in index.frame.columns for n in names):
        return None
    matrix = np.column_stack([snapshot_column(index, rows, n) for n in names])
    return None if np.isnan(matrix).all() else matrix


def never_permitted(index: SnapshotIndex, rows: np.ndarray) -> np.ndarray:
    """(n, C) the channels the snapshot permits, ignoring the spacing, cap and booked rules.

    Used for a running sequence: its own attempts would trip the spacing rule, which the
    planner's gaps replace; do-not-contact and deceased still block every channel.
    """
    out = np.zeros((len(rows), len(CHANNELS)), bool)
    known = rows >= 0
    base = index.permissions.to_numpy(dtype=bool)[rows[known]]
    never = index.blocks[list(NEVER_RULES)].to_numpy(dtype=bool)[rows[known]].any(axis=1)
    out[known] = base & ~never[:, None]
    return out


def build_inputs(
    index: SnapshotIndex,
    rows: np.ndarray,
    permitted: np.ndarray,
    recent_contacts: np.ndarray,
    channels: list[str] | None,
) -> SequenceInputs:
    """Planner inputs for members at snapshot ``rows`` (-1: not in the snapshot).

    Args:
        index: the served snapshot index.
        rows: (n,) snapshot row per member, -1 for members the snapshot lacks (they get no
            channel).
        permitted: (n, C) channels the policy allows each member.
        recent_contacts: (n,) contacts in the cap window before the campaign.
        channels: the campaign's channels (None: all).
    """
    rows = np.asarray(rows, np.int64)
    known = rows >= 0
    probabilities = np.full((len(rows), len(CHANNELS)), np.nan)
    probabilities[known] = index.probabilities[rows[known]]
    allowed = np.asarray(permitted, bool) & campaign_channels(channels) & known[:, None]
    return SequenceInputs(
        probabilities=probabilities,
        permitted=allowed,
        value=snapshot_column(index, rows, VALUE_COLUMN),
        recent_contacts=np.nan_to_num(recent_contacts),
        uplift=uplift_matrix(index, rows),
    )


def snapshot_contacts(index: SnapshotIndex, rows: np.ndarray, settings: Settings) -> np.ndarray:
    """The snapshot's contacts in the cap window at ``rows`` (unknown: 0)."""
    return np.nan_to_num(snapshot_column(index, rows, contacts_window_column(settings)))


def sequence_lists(plan: pd.DataFrame, n: int) -> list[list[dict]]:
    """The plan as one list of ``{"attempt", "channel", "send_on"}`` per member (n lists).

    One pass over the sorted plan; members without attempts get an empty list.
    """
    out: list[list[dict]] = [[] for _ in range(n)]
    days = pd.DatetimeIndex(plan["send_on"].to_numpy("M8[ns]")).strftime("%Y-%m-%d").tolist()
    for member, attempt, channel, day in zip(plan["member"].tolist(), plan["attempt"].tolist(),
                                             plan["channel"].tolist(), days, strict=True):
        out[member].append({"attempt": attempt, "channel": channel, "send_on": day})
    return out
