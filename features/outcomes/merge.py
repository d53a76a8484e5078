"""Training uses what came back: posted contacts and recorded campaign members join the export.

The export stays the source of truth for visits (a posted ``booked`` or ``attended`` never
becomes a visit here). Posted ``sent`` events (with a channel) become contacts, with
``responded_at`` from the first ``replied``/``clicked`` and ``opted_out`` from an ``opted_out``
of the same patient and channel after that send (and before the next). A posted send the export
already holds is not counted twice: it matches on ``event_id`` = ``contact_id``, or on patient,
channel and send time (to the minute). Only what happened by the export date joins, so the
tables keep their promise that nothing lies after ``export_date``.
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from features.config import Settings
from features.export.tables import Tables, conform
from features.outcomes.store import OutcomeStore
from features.store_paths import outcomes_db

RESPONSE_TYPES: tuple[str, ...] = ("replied", "clicked")


def store_exists(settings: Settings) -> bool:
    """Whether there is a store to merge: a configured URL, or the default SQLite file."""
    return bool(settings.outcomes.store_url) or outcomes_db(settings.models_dir).exists()


def merge_from_settings(tables: Tables, settings: Settings) -> Tables:
    """``tables`` with the configured store's outcomes merged in (unchanged without a store)."""
    if not store_exists(settings):
        return tables
    store = OutcomeStore.from_settings(settings)
    try:
        return merge_outcomes(tables, store)
    finally:
        store.close()


def _of_export(frame: pd.DataFrame, tables: Tables) -> pd.DataFrame:
    """Rows whose (clinic, patient) is a patient of the export."""
    pairs = pd.MultiIndex.from_frame(tables.patients[["clinic_id", "patient_id"]].astype(str))
    keys = pd.MultiIndex.from_frame(frame[["clinic_id", "patient_id"]].astype(str))
    return frame[keys.isin(pairs)]


def posted_contacts(events: pd.DataFrame, until: pd.Timestamp) -> pd.DataFrame:
    """Posted sends as contact rows (``CONTACT_DTYPES`` columns), reactions folded in."""
    events = events[events["at"] <= until]
    sends = events[events["type"].eq("sent") & events["channel"].notna()].sort_values("at")
    contacts = pd.DataFrame({
        "contact_id": sends["event_id"].astype(str).to_numpy(),
        "patient_id": sends["patient_id"].to_numpy(),
        "channel": sends["channel"].to_numpy(),
        "sent_at": sends["at"].to_numpy(),
        "campaign_id": sends["campaign_id"].to_numpy(),
    })
    for column, types in (("responded_at", RESPONSE_TYPES), ("opted_out", ("opted_out",))):
        reactions = events[events["type"].isin(types) & events["channel"].notna()]
        first = _first_reaction(contacts, reactions)
        contacts[column] = first if column == "responded_at" else first.notna()
    return conform(contacts, "contacts")


def _first_reaction(contacts: pd.DataFrame, reactions: pd.DataFrame) -> pd.Series:
    """Per contact, the earliest reaction of its patient and channel before the next send."""
    if not len(contacts) or not len(reactions):
        return pd.Series(pd.NaT, index=contacts.index, dtype="datetime64[ns]")
    left = reactions[["patient_id", "channel", "at"]].sort_values("at")
    right = contacts[["patient_id", "channel", "sent_at"]].reset_index().sort_values("sent_at")
    matched = pd.merge_asof(left, right, left_on="at", right_on="sent_at",
                            by=["patient_id", "channel"], direction="backward")
    matched = matched.dropna(subset=["index"])
    first = matched.groupby("index")["at"].min()
    first.index = first.index.astype(int)
    return first.reindex(contacts.index).astype("datetime64[ns]")


def _new_contacts(existing: pd.DataFrame | None, posted: pd.DataFrame) -> pd.DataFrame:
    """Posted contacts the export does not already hold."""
    if existing is None or not len(existing) or not len(posted):
        return posted
    same_id = posted["contact_id"].isin(set(existing["contact_id"].dropna().astype(str)))
    key = ["patient_id", "channel", "minute"]
    theirs = existing.assign(minute=existing["sent_at"].dt.floor("min"))[key]
    ours = posted.assign(minute=posted["sent_at"].dt.floor("min"))[key]
    same_moment = pd.MultiIndex.from_frame(ours).isin(pd.MultiIndex.from_frame(theirs))
    return posted[~same_id.to_numpy() & ~same_moment]


def _new_members(existing: pd.DataFrame | None, recorded: pd.DataFrame) -> pd.DataFrame:
    if existing is None or not len(existing) or not len(recorded):
        return recorded
    key = ["campaign_id", "patient_id"]
    known = pd.MultiIndex.from_frame(existing[key]).isin
    return recorded[~known(pd.MultiIndex.from_frame(recorded[key]))]


def merge_outcomes(tables: Tables, store: OutcomeStore) -> Tables:
    """The export's tables plus the store's posted contacts and campaign members.

    Returns:
        A new :class:`Tables` (inputs untouched): ``contacts`` and ``campaign_members`` extended
        with what the store holds for the export's patients up to ``export_date``; visits and
        patients as they were.
    """
    until = pd.Timestamp(tables.export_date)
    clinics = tables.clinic_ids
    events = pd.concat([store.events_frame(c) for c in clinics], ignore_index=True)
    members = pd.concat([store.members_frame(c) for c in clinics], ignore_index=True)
    contacts = _new_contacts(tables.contacts, posted_contacts(_of_export(events, tables), until))
    members = _of_export(members, tables)
    members = conform(members[members["assigned_at"] <= until], "campaign_members")
    members = _new_members(tables.campaign_members, members)
    if not len(contacts) and not len(members):
        return tables
    return dataclasses.replace(
        tables,
        contacts=_joined(tables.contacts, contacts, "contacts"),
        campaign_members=_joined(tables.campaign_members, members, "campaign_members"),
    )


def _joined(existing: pd.DataFrame | None, extra: pd.DataFrame, table: str) -> pd.DataFrame | None:
    if not len(extra):
        return existing
    if existing is None:
        return conform(extra.reset_index(drop=True), table)
    return conform(pd.concat([existing, extra], ignore_index=True), table)
