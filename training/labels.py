"""Labels: what happened after an as-of date (the only place training looks at the future).

Why its own module: the label rule is written once and both training and evaluation use it,
so a backtest can never score a different question than the one the model was trained on.
Both rules go through ``features.vocabulary`` (an event on day T belongs to the past of T; a visit
on day T + H is still inside the window, one on T + H + 1 is not).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.pipeline.events import Prepared
from features.vocabulary import (
    CHANNELS,
    COMPLETED,
    COMPLETED_CODE,
    booking_moment,
    credited_contacts,
    cutoff,
    in_label_window,
    within_attribution,
)


def label_window_end(as_of: str | pd.Timestamp, horizon_days: int) -> pd.Timestamp:
    """The first instant after the label window of ``as_of`` (midnight after day T + H)."""
    return cutoff(as_of) + pd.Timedelta(days=horizon_days)


def label_known_by(as_of: str | pd.Timestamp, horizon_days: int, t: str | pd.Timestamp) -> bool:
    """True when the whole label window of ``as_of`` lies on or before day ``t``."""
    return label_window_end(as_of, horizon_days) <= cutoff(t)


def return_labels(
    visits: pd.DataFrame, patient_ids: pd.Index, as_of: str | pd.Timestamp, horizon_days: int
) -> pd.Series:
    """Whether each patient completes a visit on a day in T+1 … T+H.

    Args:
        visits: the contract's visits table (``patient_id``, ``visit_at``, ``status``).
        patient_ids: the patients to label (the result follows this order).
        as_of: the as-of date T.
        horizon_days: H.

    Returns:
        Series of 0/1 ``int8`` indexed like ``patient_ids``, named ``label``.
    """
    status = visits["status"].fillna(COMPLETED)
    done = visits.loc[(status == COMPLETED).to_numpy(), ["patient_id", "visit_at"]]
    inside = done.loc[in_label_window(done["visit_at"], as_of, horizon_days).to_numpy()]
    hit = patient_ids.isin(pd.Index(inside["patient_id"].unique()))
    return pd.Series(hit.astype(np.int8), index=patient_ids, name="label")


def prepared_return_labels(
    prepared: Prepared, as_of: str | pd.Timestamp, horizon_days: int
) -> np.ndarray:
    """:func:`return_labels` of every patient of a prepared export, in its patient order.

    The same rule on the prepared arrays (patients as codes, statuses as codes), so a
    training run does not hash ten million visit ids again at every snapshot date.

    Returns:
        0/1 ``int8`` array, one per ``prepared.patient_ids``.
    """
    start = np.datetime64(cutoff(as_of).to_datetime64(), "ns")
    end = start + np.timedelta64(horizon_days, "D")
    v = prepared.visits
    inside = (v.status == COMPLETED_CODE) & (prepared.visit_at >= start) & (
        prepared.visit_at < end)
    return (np.bincount(v.pid[inside], minlength=prepared.n) > 0).astype(np.int8)


def contact_labels(
    contacts: pd.DataFrame, visits: pd.DataFrame, attribution_days: int
) -> pd.Series:
    """Whether each contact converted, by the vocabulary's attribution rule.

    The rule is ``features.vocabulary.credited_contacts`` (the one the feature pipeline uses):
    a visit (any status) is booked at ``booked_at``, else ``visit_at``; the latest contact of
    the same patient sent at or before that moment gets the credit (ties: the later channel),
    if it was sent at most ``attribution_days`` earlier (``within_attribution``). A contact
    converts when it gets credit for any booking.

    Args:
        contacts: contacts (``patient_id``, ``channel``, ``sent_at``), any index; channels
            are the contract's (``CHANNELS``).
        visits: visits (``patient_id``, ``visit_at``, ``booked_at``).
        attribution_days: the attribution window in days.

    Returns:
        Series of 0/1 ``int8`` indexed like ``contacts``, named ``booked``.

    Raises:
        ValueError: a contact's channel is not one of ``CHANNELS`` (the loader rejects those).
    """
    channel = pd.Index(CHANNELS).get_indexer(contacts["channel"].to_numpy(object))
    if (channel < 0).any():
        raise ValueError(
            f"contacts.channel: one of {', '.join(CHANNELS)} "
            f"({int((channel < 0).sum())} rows are not)"
        )
    patient, _ = pd.factorize(
        np.concatenate([visits["patient_id"].to_numpy(object),
                        contacts["patient_id"].to_numpy(object)]),
        use_na_sentinel=False,
    )
    booking_pid, contact_pid = patient[:len(visits)], patient[len(visits):]
    booking_at = booking_moment(visits["booked_at"].to_numpy("datetime64[ns]"),
                                visits["visit_at"].to_numpy("datetime64[ns]"))
    sent_at = contacts["sent_at"].to_numpy("datetime64[ns]")
    credited = credited_contacts(booking_pid, booking_at, contact_pid, sent_at, channel)
    found = credited >= 0
    rows = credited[found]
    rows = rows[within_attribution(booking_at[found], sent_at[rows], attribution_days)]
    out = np.zeros(len(contacts), dtype=np.int8)
    out[rows] = 1
    return pd.Series(out, index=contacts.index, name="booked")
