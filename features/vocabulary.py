"""The domain vocabulary and the two time rules, each written once.

Every other module imports these names instead of spelling the literals or re-deriving the
rules, so a channel, a status or the point-in-time cut cannot mean two things in two places.

Time rules:

* **As-of cutoff.** An as-of date T means the *end* of that day: an event is known at T when
  its timestamp is strictly before ``T + 1 day`` (``ts < cutoff(T)``). Labels look at events on
  days T+1 … T+H, i.e. ``cutoff(T) <= ts < cutoff(T) + H days``.
* **Attribution (latest contact).** A booking is made at ``booked_at``, else at the visit's
  ``visit_at``. The latest contact of the same patient sent at or before that moment gets the
  credit (ties: the later channel of ``CHANNELS``), when it was sent at most
  ``attribution_days`` earlier. :func:`credited_contacts` is that rule; the feature pipeline,
  the channel-model labels and campaign attribution all call it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.pipeline.grouping import order_by, time_ordinals

# Channels in the clinic's usual cost order (cheapest first); indexes of this tuple are the
# channel codes used in matrices and in the snapshot index.
CHANNELS: tuple[str, ...] = ("sms", "email", "phone", "mail")
SMS, EMAIL, PHONE, MAIL = CHANNELS
CHANNEL_CODE: dict[str, int] = {c: i for i, c in enumerate(CHANNELS)}

# What a visit can have become. A missing status means completed.
VISIT_STATUSES: tuple[str, ...] = ("completed", "no_show", "cancelled", "scheduled")
COMPLETED, NO_SHOW, CANCELLED, SCHEDULED = VISIT_STATUSES
# Integer status codes (positions in ``VISIT_STATUSES``), used by the feature pipeline's visit
# log and by the simulator's engine; ``*_CODE`` so they never shadow the strings above.
STATUS_CODE: dict[str, int] = {s: i for i, s in enumerate(VISIT_STATUSES)}
COMPLETED_CODE, NO_SHOW_CODE, CANCELLED_CODE, SCHEDULED_CODE = (
    STATUS_CODE[s] for s in VISIT_STATUSES
)

# Inactivity segments, from the most to the least engaged.
SEGMENTS: tuple[str, ...] = ("active", "lapsing", "inactive", "dormant", "lost")
ACTIVE, LAPSING, INACTIVE, DORMANT, LOST = SEGMENTS
WIN_BACK_SEGMENTS: tuple[str, ...] = (LAPSING, INACTIVE, DORMANT)
NO_SEGMENT = "unknown"  # a campaign member whose segment is not known (campaign results)

# Campaign arms and the outcome events a campaign tool or practice system posts back.
ARMS: tuple[str, ...] = ("treatment", "holdout")
TREATMENT, HOLDOUT = ARMS
CONTACT_EVENT_TYPES: tuple[str, ...] = (
    "sent", "delivered", "failed", "opened", "clicked", "replied", "opted_out",
)
VISIT_EVENT_TYPES: tuple[str, ...] = ("booked", "attended", "cancelled", "no_show")
OUTCOME_TYPES: tuple[str, ...] = (*CONTACT_EVENT_TYPES, *VISIT_EVENT_TYPES)

# The channel field of a scored patient who has no channel (or no channel model).
NO_ALLOWED_CHANNEL = "none"
NO_CHANNEL_MODEL = "unknown"
# The no-contact arm of an uplift (simulator truth rows, uplift baselines): same word as above.
NO_CONTACT = NO_ALLOWED_CHANNEL


def as_timestamp(as_of: str | pd.Timestamp) -> pd.Timestamp:
    """Normalise an as-of date (date or timestamp) to midnight of that day."""
    return pd.Timestamp(as_of).normalize()


def cutoff(as_of: str | pd.Timestamp) -> pd.Timestamp:
    """The first instant *not* known at ``as_of``: midnight after the as-of day."""
    return as_timestamp(as_of) + pd.Timedelta(days=1)


def in_label_window(ts: pd.Series, as_of: str | pd.Timestamp, horizon_days: int) -> pd.Series:
    """Boolean mask: ``ts`` falls on a day in T+1 … T+H."""
    start = cutoff(as_of)
    return (ts >= start) & (ts < start + pd.Timedelta(days=horizon_days))


def booking_moment(booked_at: np.ndarray, visit_at: np.ndarray) -> np.ndarray:
    """When each visit was booked: ``booked_at``, else ``visit_at`` (datetime64 arrays)."""
    booked_at = np.asarray(booked_at, dtype="datetime64[ns]")
    return np.where(np.isnat(booked_at), np.asarray(visit_at, dtype="datetime64[ns]"), booked_at)


def credited_contacts(
    booking_pid: np.ndarray,
    booking_at: np.ndarray,
    contact_pid: np.ndarray,
    contact_at: np.ndarray,
    contact_channel: np.ndarray,
) -> np.ndarray:
    """The contact credited with each booking by the latest-contact rule (-1: none).

    The attribution window is not applied here (it depends on the settings and, in the
    feature pipeline, on the as-of date): compare ``booking_at - contact_at[credited]`` with
    it. Patients are integer codes, times datetime64 and channels codes into ``CHANNELS``.
    One sort of contacts and bookings together by (patient, time, contact before booking,
    channel), then a running maximum of the latest contact position.

    Returns:
        int64 array parallel to the bookings: the row of the credited contact, or -1.
    """
    booking_pid = np.asarray(booking_pid, dtype=np.int64)
    contact_pid = np.asarray(contact_pid, dtype=np.int64)
    n_v, n_c = len(booking_pid), len(contact_pid)
    credited = np.full(n_v, -1, dtype=np.int64)
    if n_v == 0 or n_c == 0:
        return credited
    booking_at = np.asarray(booking_at, "datetime64[ns]")
    undated = np.isnat(booking_at)
    (t_booking, t_contact), span = time_ordinals(
        np.where(undated, np.asarray(contact_at, "datetime64[ns]").min(), booking_at),
        np.asarray(contact_at, "datetime64[ns]"))
    # Narrow keys and each temporary dropped once used: at ten million visits and five
    # million contacts every int64 array here is 120 MB, and this ran at the nightly job's
    # memory peak. The packed sort key (``order_by``) and so the order are the same.
    all_pid = np.concatenate([contact_pid, booking_pid])
    is_booking = np.r_[np.zeros(n_c, np.int8), np.ones(n_v, np.int8)]
    channel = np.r_[np.asarray(contact_channel, np.int8), np.zeros(n_v, np.int8)]
    times = np.concatenate([t_contact, t_booking])
    del t_contact, t_booking
    order = order_by([(all_pid, int(all_pid.max(initial=0)) + 1), (times, span),
                      (is_booking, 2), (channel, len(CHANNELS))], stable=False)
    del times, is_booking, channel
    latest = np.arange(len(order))
    latest[order >= n_c] = -1  # the position of each contact, -1 for a booking
    np.maximum.accumulate(latest, out=latest)  # the latest contact at or before each row
    found = latest >= 0
    source = order[np.maximum(latest, 0, out=latest)]
    del latest
    same_patient = found & (all_pid[source] == all_pid[order])
    bookings = order >= n_c
    credited[order[bookings] - n_c] = np.where(same_patient[bookings], source[bookings], -1)
    credited[undated] = -1  # a booking without a time is never credited
    return credited


def within_attribution(
    booking_at: np.ndarray, contact_at: np.ndarray, attribution_days: int
) -> np.ndarray:
    """Whether a booking at ``booking_at`` lies inside the attribution window of a contact."""
    lag = np.asarray(booking_at, "datetime64[ns]") - np.asarray(contact_at, "datetime64[ns]")
    return lag <= np.timedelta64(attribution_days, "D")
