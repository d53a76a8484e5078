"""Labels: what happened after an as-of date (the only place training looks at the future).

Why its own module: the label rule is written once and both training and evaluation use it,
so a backtest can never score a different question than the one the model was trained on.
Both rules go through ``features.vocabulary`` (an event on day T belongs to the past of T; a visit
on day T + H is still inside the window, one on T + H + 1 is not).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.vocabulary import cutoff, in_label_window


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
    status = visits["status"].fillna("completed")
    done = visits.loc[(status == "completed").to_numpy(), ["patient_id", "visit_at"]]
    inside = done.loc[in_label_window(done["visit_at"], as_of, horizon_days).to_numpy()]
    hit = patient_ids.isin(pd.Index(inside["patient_id"].unique()))
    return pd.Series(hit.astype(np.int8), index=patient_ids, name="label")


def contact_labels(
    contacts: pd.DataFrame, visits: pd.DataFrame, attribution_days: int
) -> pd.Series:
    """Whether each contact converted, by the data contract's credit rule.

    A visit (any status) is booked at ``booked_at``, else ``visit_at``. The latest contact of
    the same patient sent at or before that moment gets the credit, if it was sent at most
    ``attribution_days`` earlier. A contact converts when it gets credit for any booking.

    Args:
        contacts: contacts (``patient_id``, ``sent_at``), any index.
        visits: visits (``patient_id``, ``visit_at``, ``booked_at``).
        attribution_days: the attribution window in days.

    Returns:
        Series of 0/1 ``int8`` indexed like ``contacts``, named ``booked``.
    """
    booking = visits["booked_at"].fillna(visits["visit_at"])
    left = pd.DataFrame({"patient_id": visits["patient_id"].to_numpy(), "t": booking.to_numpy()})
    left = left.dropna(subset=["t"]).sort_values("t", kind="stable")
    right = pd.DataFrame({
        "patient_id": contacts["patient_id"].to_numpy(),
        "t": contacts["sent_at"].to_numpy(),
        "row": np.arange(len(contacts)),
        "sent": contacts["sent_at"].to_numpy(),
    }).sort_values("t", kind="stable")
    merged = pd.merge_asof(left, right, on="t", by="patient_id", direction="backward")
    merged = merged.dropna(subset=["row"])
    within = (merged["t"] - merged["sent"]) <= pd.Timedelta(days=attribution_days)
    credited = merged.loc[within, "row"].astype(np.int64).unique()
    out = np.zeros(len(contacts), dtype=np.int8)
    out[credited] = 1
    return pd.Series(out, index=contacts.index, name="booked")
