"""The channel choice: on which channels a patient may be reached, and which one is best.

Written once here and used by both layers that name a channel: scoring
(``training.scoring``, the snapshot's ``best_channel``, read by drift and the report) and
serving (``serving.targeting``: the contact policy's permissions and the channel ``/rank``
answers with). So the snapshot and the service can never disagree on a patient's channel.

Rules:

* **Permission.** A channel needs consent and no opt-out. Unknown consent (missing value or
  column) never allows SMS (marketing texts need express consent); it allows email, phone and
  mail when ``features.email_phone_mail_allowed_when_unknown`` is set.
* **Never contacted.** A ``do_not_contact`` or ``deceased`` patient may be contacted on no
  channel at all (unknown flags do not block).
* **Choice.** Among the permitted channels, the highest utility
  ``p - policy.cost_weight x policy.channel_costs[channel]``; when the bundle has an uplift
  model, the highest incremental value ``uplift_c x expected revenue - cost_c`` instead
  (:func:`incremental_values`): the channel that adds the most, not the one whose patients
  book anyway. An unknown probability (NaN)
  ranks below every known one; ties go to the earlier channel of ``CHANNELS``. No permitted
  channel: no choice (code -1, label ``none``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.config import Settings
from features.vocabulary import CHANNELS, NO_ALLOWED_CHANNEL, SMS

NEVER_CONTACT_FLAGS: tuple[str, ...] = ("do_not_contact", "deceased")


def flag_column(frame: pd.DataFrame, column: str, missing: bool) -> np.ndarray:
    """A boolean column as a numpy array, ``missing`` standing in for unknown values.

    A missing column is all unknown, so an export without that field degrades to the rule's
    "unknown" case instead of failing.
    """
    if column not in frame.columns:
        return np.full(len(frame), missing, dtype=bool)
    values = frame[column]
    if values.dtype == object or isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype("boolean")
    return values.fillna(missing).to_numpy(dtype=bool)


def channel_permissions(frame: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Which channels each patient consents to and has not opted out of.

    Returns:
        Frame on ``frame``'s index with one boolean column per channel in ``CHANNELS``.
    """
    unknown_ok = settings.features.email_phone_mail_allowed_when_unknown
    allowed = {
        channel: flag_column(frame, f"consent_{channel}", missing=(channel != SMS and unknown_ok))
        & ~flag_column(frame, f"opted_out_{channel}", missing=False)
        for channel in CHANNELS
    }
    return pd.DataFrame(allowed, index=frame.index)


def never_contact(frame: pd.DataFrame) -> pd.DataFrame:
    """The flags that forbid every contact (``NEVER_CONTACT_FLAGS``), unknown meaning no.

    Returns:
        Frame on ``frame``'s index with one boolean column per flag (True: never contact).
    """
    return pd.DataFrame(
        {name: flag_column(frame, name, missing=False) for name in NEVER_CONTACT_FLAGS},
        index=frame.index,
    )


def reachable_channels(frame: pd.DataFrame, settings: Settings) -> np.ndarray:
    """(n, len(CHANNELS)) booleans: permitted channels, none for a never-contact patient."""
    blocked = never_contact(frame).to_numpy(dtype=bool).any(axis=1)
    return channel_permissions(frame, settings).to_numpy(dtype=bool) & ~blocked[:, None]


def channel_costs(settings: Settings) -> np.ndarray:
    """Cost of one contact per channel, in ``CHANNELS`` order (unlisted channels cost 0)."""
    return np.array([settings.policy.channel_costs.get(c, 0.0) for c in CHANNELS], dtype=float)


def incremental_values(
    uplift: np.ndarray, revenue: np.ndarray, permitted: np.ndarray, settings: Settings
) -> np.ndarray:
    """(n, len(CHANNELS)) ``uplift_c x revenue - cost_c``; NaN where c is not permitted.

    Args:
        uplift: (n, len(CHANNELS)) extra booking probability of a contact on each channel.
        revenue: (n,) expected revenue of a visit (unknown counts as 0).
        permitted: (n, len(CHANNELS)) booleans.
        settings: ``policy.channel_costs``.
    """
    value = np.asarray(uplift, dtype=float) * np.nan_to_num(
        np.asarray(revenue, dtype=float))[:, None] - channel_costs(settings)[None, :]
    return np.where(np.asarray(permitted, dtype=bool), value, np.nan)


def choose_channels(
    probabilities: np.ndarray, permitted: np.ndarray, settings: Settings,
    values: np.ndarray | None = None,
) -> np.ndarray:
    """Each patient's channel: the highest utility among the permitted ones.

    Args:
        probabilities: (n, len(CHANNELS)) booking probabilities if contacted, NaN if unknown.
        permitted: (n, len(CHANNELS)) booleans, the channels the patient may be contacted on.
        settings: ``policy.channel_costs`` and ``policy.cost_weight``.
        values: (n, len(CHANNELS)) incremental values (:func:`incremental_values`); when
            given they are the utility (costs are already in them).

    Returns:
        int64 positions in ``CHANNELS``; -1 where no channel is permitted.
    """
    probabilities = np.asarray(probabilities, dtype=float)
    permitted = np.asarray(permitted, dtype=bool)
    if not len(permitted):
        return np.zeros(0, dtype=np.int64)
    if values is not None:
        utility = np.asarray(values, dtype=float)
    else:
        utility = probabilities - settings.policy.cost_weight * channel_costs(settings)
    known = permitted & ~np.isnan(utility)
    best_known = np.argmax(np.where(known, utility, -np.inf), axis=1)
    first_permitted = np.argmax(permitted, axis=1)  # all unknown: the earliest permitted one
    choice = np.where(known.any(axis=1), best_known, first_permitted)
    return np.where(permitted.any(axis=1), choice, -1).astype(np.int64)


def channel_labels(codes: np.ndarray) -> np.ndarray:
    """Channel names of ``choose_channels`` codes; ``none`` (``NO_ALLOWED_CHANNEL``) for -1."""
    names = np.asarray([*CHANNELS, NO_ALLOWED_CHANNEL], dtype=object)
    return names[np.asarray(codes, dtype=np.int64)]  # -1 picks the last entry


def best_channels(
    frame: pd.DataFrame, probabilities: np.ndarray, settings: Settings,
    values: np.ndarray | None = None,
) -> np.ndarray:
    """The best channel name per row of a scored frame, over its reachable channels.

    ``values``: incremental values per channel (with an uplift model): they decide.
    """
    return channel_labels(choose_channels(probabilities, reachable_channels(frame, settings),
                                          settings, values))
