"""Read one campaign's members and outcome events for a clinic, plus the export's visits.

Today both come from the export folder (``campaign_members.csv|parquet`` and an optional
``outcome_events.csv|parquet``). What the service records itself (``POST /campaigns``,
``POST /outcomes``) is added through :func:`stored_frames`, the one seam where the outcome
store joins; rows seen in both are kept once (members by campaign and patient, events by
``event_id``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from features.config import Settings
from features.export.tables import (
    CAMPAIGN_MEMBER_DTYPES,
    OUTCOME_EVENT_DTYPES,
    VISIT_DTYPES,
    Tables,
)


@dataclass(frozen=True)
class CampaignFrames:
    """What ``training.campaign_results.campaign_results`` needs for one campaign.

    Attributes:
        sources: where members, events and visits came from, said in the results answer so
            the service's figures and the CLI's are never silently different.
    """

    campaign_id: str
    members: pd.DataFrame
    events: pd.DataFrame
    visits: pd.DataFrame
    sources: dict[str, str]

    @property
    def started_at(self) -> pd.Timestamp:
        """When the campaign's first member was assigned."""
        return pd.Timestamp(self.members["assigned_at"].min())


def _read(folder: Path, name: str, dtypes: dict[str, str], required: bool) -> pd.DataFrame:
    """``name``.parquet or ``name``.csv from ``folder`` in the contract dtypes."""
    for path in (folder / f"{name}.parquet", folder / f"{name}.csv"):
        if path.exists():
            frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(
                path, dtype=str, keep_default_na=False, na_values=[""])
            return _conform(frame, dtypes, name)
    if required:
        raise FileNotFoundError(f"{name}: no {name}.csv or {name}.parquet in the export")
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in dtypes.items()})


def _conform(frame: pd.DataFrame, dtypes: dict[str, str], table: str) -> pd.DataFrame:
    """Contract columns in contract dtypes; a value that does not parse names its column."""
    out = {}
    for col, dtype in dtypes.items():
        values = frame[col] if col in frame.columns else pd.Series(None, index=frame.index)
        try:
            if dtype.startswith("datetime"):
                values = pd.to_datetime(values, format="ISO8601")
                if values.dt.tz is not None:  # with an offset: the clinic's local wall time
                    values = values.dt.tz_localize(None)
            elif dtype == "float64":
                values = pd.to_numeric(values)
        except (ValueError, TypeError) as err:
            raise ValueError(f"{table}.{col}: not a {dtype} value") from err
        out[col] = values.astype(dtype)
    return pd.DataFrame(out, index=frame.index)


def empty_visits() -> pd.DataFrame:
    """A visits table with no rows, in the contract dtypes (results from posted events only)."""
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in VISIT_DTYPES.items()})


def stored_frames(settings: Settings, clinic_id: str,
                  campaign_id: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Members (of ``campaign_id`` only, when given) and events the service recorded for
    ``clinic_id`` in the outcome store.

    Empty frames in the contract dtypes when no store is configured or exists yet (a clinic
    that only exports its campaigns).
    """
    from features.outcomes.merge import store_exists
    from features.outcomes.store import OutcomeStore

    if not store_exists(settings):
        return (pd.DataFrame({c: pd.Series(dtype=t) for c, t in CAMPAIGN_MEMBER_DTYPES.items()}),
                pd.DataFrame({c: pd.Series(dtype=t) for c, t in OUTCOME_EVENT_DTYPES.items()}))
    store = OutcomeStore.from_settings(settings)
    try:
        members = store.members_frame(clinic_id, campaign_id).drop(columns="clinic_id")
        events = store.events_frame(clinic_id).drop(columns="clinic_id")
    finally:
        store.close()
    return members, events


def campaign_sources(with_export: bool, posted_only: bool) -> dict[str, str]:
    """Where a campaign's members, events and visits came from (the results' ``sources``)."""
    where = "export + outcome store" if with_export else "outcome store"
    return {
        "members": where, "events": where,
        "visits": ("none: bookings and kept visits are the posted booked/attended events"
                   if posted_only else "export's visits + posted booked/attended events"),
    }


def latest_campaign(members: pd.DataFrame) -> str:
    """The campaign assigned most recently (ties: the larger id)."""
    if members.empty:
        raise ValueError("campaign_members: no campaign for this clinic")
    started = members.groupby("campaign_id")["assigned_at"].min().reset_index()
    return str(started.sort_values(["assigned_at", "campaign_id"]).iloc[-1]["campaign_id"])


def load_campaign_frames(settings: Settings, clinic_id: str, campaign_id: str | None,
                         export: Path | None, tables: Tables | None,
                         posted_only: bool = False) -> CampaignFrames:
    """One campaign's frames for ``clinic_id`` (``campaign_id`` None: the latest one).

    Args:
        settings: the config object (the store's location).
        clinic_id: only this clinic's patients are read.
        campaign_id: the campaign, or None for the most recently assigned.
        export: the export folder holding ``campaign_members`` / ``outcome_events``; None:
            the outcome store only (what the service sees).
        tables: that export, already loaded and validated (its visits and patients).
        posted_only: leave the export's visits out, so bookings and kept visits come only
            from posted events, as in ``GET /campaigns/{id}/results``.
    """
    store_only = export is None or tables is None
    stored_members, stored_events = stored_frames(settings, clinic_id,
                                                  campaign_id if store_only else None)
    if store_only:
        # the store's keys already make members (campaign, patient) and events (event_id)
        # unique: no frame-wide duplicate search over millions of ids
        members, events, visits = stored_members, stored_events, empty_visits()
        posted_only = True
    else:
        patients = set(tables.patients.loc[tables.patients["clinic_id"] == clinic_id,
                                           "patient_id"])
        if not patients:
            raise ValueError(f"patients.clinic_id: no patient of clinic {clinic_id!r}")
        # an export without campaign members is fine once the service has recorded some
        members = pd.concat([_read(export, "campaign_members", CAMPAIGN_MEMBER_DTYPES,
                                   stored_members.empty),
                             stored_members], ignore_index=True)
        members = members[members["patient_id"].isin(patients)]
        events = pd.concat([_read(export, "outcome_events", OUTCOME_EVENT_DTYPES, False),
                            stored_events], ignore_index=True)
        events = events[events["patient_id"].isin(patients)]
        visits = (empty_visits() if posted_only
                  else tables.visits[tables.visits["patient_id"].isin(patients)])
    if not store_only:
        members = members.drop_duplicates(["campaign_id", "patient_id"])
        events = events.drop_duplicates("event_id")
    chosen = campaign_id or latest_campaign(members)
    sources = campaign_sources(export is not None, posted_only)
    return CampaignFrames(chosen, members[members["campaign_id"] == chosen], events, visits,
                          sources)
