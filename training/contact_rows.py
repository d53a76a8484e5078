"""Training rows of the channel model: one per past contact, features as of before it.

Why a grid of feature dates: building features for every distinct send day would cost one
feature build per day of campaigning; taking them as of the latest grid date before the
send day (``training.channel_grid_days``) costs one build per grid date and stays
point-in-time (never after the send day), only a little stale. Labels follow the data
contract: ``booked`` when the contact gets the credit for a booking within the attribution
window, ``responded`` when the patient reacted within that window. Only contacts whose
window ends by ``until`` are used, and only events known by then.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.config import Settings
from features.export.tables import Tables
from features.pipeline.assemble import build_prepared
from features.pipeline.events import Prepared
from features.vocabulary import CHANNELS, as_timestamp, cutoff
from training.context import add_context
from training.labels import contact_labels

SUFFIXES: tuple[str, ...] = (
    "sent", "responses", "bookings", "response_rate", "days_since_last_contact",
    "days_since_last_response", "attempts_since_response",
)


def with_channel_view(frame: pd.DataFrame, channel: np.ndarray) -> pd.DataFrame:
    """A copy of ``frame`` with ``channel`` and the ``channel_<suffix>`` columns of that channel.

    ``channel_<suffix>`` holds, per row, the patient's ``<channel>_<suffix>`` feature for the
    row's own channel ("how this patient answers the channel in question").
    """
    out = frame.copy()
    out["channel"] = channel
    for s in SUFFIXES:
        values = np.full(len(frame), np.nan)
        for ch in CHANNELS:
            mask = channel == ch
            values[mask] = pd.to_numeric(frame.loc[mask, f"{ch}_{s}"], errors="coerce")
        out[f"channel_{s}"] = values
    return out


def latest_contacts(contacts: pd.DataFrame, cap: int) -> pd.DataFrame:
    """The ``cap`` latest contacts by send time (all of them when ``cap`` is 0 or not reached).

    Why the latest and not a sample over the years: the channel model scores the next
    contacts, and the cost of a contact row is the feature build of its grid date - a sample
    spread over five years would need a build for every one of some 130 grid dates.
    Ties at the boundary keep the later rows of the export.
    """
    if not cap or len(contacts) <= cap:
        return contacts
    order = np.argsort(contacts["sent_at"].to_numpy("datetime64[ns]"), kind="stable")
    return contacts.iloc[np.sort(order[-cap:])]


def build_contact_rows(
    tables: Tables, prepared: Prepared, until: pd.Timestamp, settings: Settings
) -> pd.DataFrame:
    """One row per contact whose attribution window ends by ``until``, oldest first (the
    latest ``training.max_contact_rows`` of them: :func:`latest_contacts`).

    Returns:
        Frame with ``sent_at``, ``patient_id``, the feature columns as of the contact's grid
        date, ``channel``, ``channel_<suffix>``, ``responded`` and ``booked`` (0/1). Empty
        when the export has no contacts.
    """
    if tables.contacts is None or tables.contacts.empty:
        return pd.DataFrame()
    attribution = pd.Timedelta(days=settings.features.attribution_days)
    end = cutoff(until)
    all_contacts = tables.contacts
    contacts = all_contacts.loc[
        (all_contacts["sent_at"] + attribution < end).to_numpy()
        & all_contacts["channel"].isin(CHANNELS).to_numpy()
    ]
    available = len(contacts)
    contacts = latest_contacts(contacts, settings.training.max_contact_rows)
    booking = tables.visits["booked_at"].fillna(tables.visits["visit_at"])
    visits = tables.visits.loc[(booking < end).to_numpy()]
    known = all_contacts.loc[(all_contacts["sent_at"] < end).to_numpy()]
    booked = contact_labels(known, visits, settings.features.attribution_days)
    booked = booked.reindex(contacts.index)
    delay = contacts["responded_at"] - contacts["sent_at"]
    responded = (contacts["responded_at"].notna() & (delay <= attribution)).to_numpy()
    grid = settings.training.channel_grid_days
    top = as_timestamp(until)
    day_before = contacts["sent_at"].dt.normalize() - pd.Timedelta(days=1)
    steps = np.ceil(((top - day_before).dt.days / grid).clip(lower=0)).astype(int)
    grid_date = (top - pd.to_timedelta(steps * grid, unit="D")).to_numpy()
    blocks = []
    for date in np.unique(grid_date):
        mask = grid_date == date
        part = contacts.loc[mask]
        feats = add_context(build_prepared(prepared, pd.Timestamp(date), settings), tables,
                            pd.Timestamp(date), settings.horizon_days, prepared)
        rows = feats.reindex(part["patient_id"].to_numpy()).reset_index()
        rows.insert(0, "sent_at", part["sent_at"].to_numpy())
        rows = with_channel_view(rows, part["channel"].to_numpy(dtype=object))
        rows["responded"] = responded[mask].astype(np.int8)
        rows["booked"] = booked.loc[mask].to_numpy()
        blocks.append(rows)
    out = pd.concat(blocks, ignore_index=True).sort_values("sent_at", kind="stable",
                                                             ignore_index=True)
    out.attrs["contacts_available"] = available
    return out
