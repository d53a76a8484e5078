"""Turn a raw run into contract tables (``features.export.tables.Tables``) and CSV files.

Only what a clinic's system would hold is exported: the latent engagement, cadence and
holdout stay behind for the oracle; appointments still booked for patients known to have
died are dropped (the clinic cleared them). Reactions landing after the export are not yet known,
so they are blanked, as is an opt-out that would arrive with them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from features.export.tables import Tables, conform
from features.simulator.engine import RawRun
from features.simulator.params import DECEASED
from features.vocabulary import (
    CHANNELS,
    HOLDOUT,
    SCHEDULED,
    SCHEDULED_CODE,
    TREATMENT,
    VISIT_STATUSES,
)


def _ids(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded string ids, e.g. ``P0000042``."""
    return np.char.add(prefix, np.char.zfill(numbers.astype(str), width)).astype(object)


def _export_cutoff(raw: RawRun) -> int:
    """Day number of the midnight after ``end`` (nothing but scheduled visits from there)."""
    return raw.end_day + 1


def patient_ids(raw: RawRun) -> np.ndarray:
    """Patient id of each simulated patient (index = patient number)."""
    return _ids("P", np.arange(1, raw.pop.n + 1), 7)


def build_tables(raw: RawRun, clinic_id: str) -> Tables:
    """The export as a clinic's system would hand it over, conformed to the contract dtypes."""
    cal, pop, v, c = raw.calendar, raw.pop, raw.visits, raw.contacts
    locations, services = np.asarray(raw.cfg.locations, object), np.asarray(raw.cfg.services, object)
    pid = patient_ids(raw)
    created = cal.timestamps(pop.created_day, np.zeros(pop.n, np.int16))
    years = (pop.age * 365.25).astype(np.int64)
    birth = created - (years.astype("timedelta64[D]")).astype("timedelta64[ns]")
    birth = pd.DatetimeIndex(birth).normalize()
    consent = pop.consent & ~raw.opted_out
    patients = pd.DataFrame({
        "patient_id": pid,
        "clinic_id": np.full(pop.n, clinic_id, dtype=object),
        "location_id": locations[pop.location],
        "birth_date": birth,
        "sex": np.asarray(["F", "M"], dtype=object)[pop.sex],
        "do_not_contact": pop.do_not_contact,
        "deceased": ~raw.engaged_end & (raw.reason_end == DECEASED),
        "created_at": created,
    })
    for j, ch in enumerate(CHANNELS):
        col = pd.array(consent[:, j], dtype="boolean")
        col[pop.consent_unknown[:, j]] = pd.NA
        patients[f"consent_{ch}"] = col
    cut = _export_cutoff(raw)
    visit_at = cal.timestamps(v["visit_day"], v["visit_min"])
    dead = ~raw.engaged_end & (raw.reason_end == DECEASED)
    gone = (v["status"] == SCHEDULED_CODE) & dead[v["patient"]]  # the clinic cleared those
    order = np.lexsort((v["patient"], visit_at))
    order = order[~gone[order]]
    provider_ids = raw.staff.ids
    visits = pd.DataFrame({
        "visit_id": _ids("V", np.arange(1, len(order) + 1), 8),
        "patient_id": pid[v["patient"][order]],
        "visit_at": visit_at[order],
        "status": np.asarray(VISIT_STATUSES, dtype=object)[v["status"][order]],
        "booked_at": cal.timestamps(v["book_day"], v["book_min"])[order],
        "service": services[v["service"][order]],
        "provider_id": provider_ids[v["provider"][order]],
        "location_id": locations[pop.location[v["patient"][order]]],
        "revenue": np.round(v["revenue"][order].astype(np.float64), 2),
    })
    known = c["resp_day"] < cut
    resp_at = cal.timestamps(c["resp_day"], c["resp_min"]).copy()
    resp_at[~(c["reacted"] & known)] = np.datetime64("NaT")
    sent_at = cal.timestamps(c["day"], c["minute"])
    corder = np.lexsort((c["patient"], sent_at))
    contacts = pd.DataFrame({
        "contact_id": _ids("C", np.arange(1, len(corder) + 1), 8),
        "patient_id": pid[c["patient"][corder]],
        "channel": np.asarray(CHANNELS, dtype=object)[c["channel"][corder]],
        "sent_at": sent_at[corder],
        "campaign_id": campaign_names(raw)[c["campaign"][corder]],
        "responded_at": resp_at[corder],
        "opted_out": (c["opted_out"] & known)[corder],
    })
    export = max(
        visits.loc[visits["status"] != SCHEDULED, "visit_at"].max(),
        visits["booked_at"].max(), contacts["sent_at"].max(), contacts["responded_at"].max(),
    )
    members = campaign_members(raw, pid, cut)
    return Tables(
        visits=conform(visits, "visits"),
        patients=conform(patients, "patients"),
        contacts=conform(contacts, "contacts"),
        campaign_members=conform(members, "campaign_members"),
        export_date=pd.Timestamp(export),
        has_patients_table=True,
        provided_columns={
            "visits": tuple(visits.columns), "patients": tuple(patients.columns),
            "contacts": tuple(contacts.columns), "campaign_members": tuple(members.columns),
        },
    )


def campaign_members(raw: RawRun, pid: np.ndarray, cut: int) -> pd.DataFrame:
    """Members of the campaigns launched before the export, with their randomised arm.

    ``assigned_at`` is the launch day; the channel is left out (the simulator chooses it per
    attempt, and holdout members get none).
    """
    m = raw.members
    launch_day = raw.campaigns[m["campaign"]]
    known = launch_day < cut
    order = np.lexsort((m["patient"][known], launch_day[known]))
    assigned = raw.calendar.start + pd.to_timedelta(launch_day[known][order], unit="D")
    return pd.DataFrame({
        "campaign_id": campaign_names(raw)[m["campaign"][known][order]],
        "patient_id": pid[m["patient"][known][order]],
        "assigned_at": assigned,
        "arm": np.where(m["holdout"][known][order], HOLDOUT, TREATMENT).astype(object),
    })


def campaign_names(raw: RawRun) -> np.ndarray:
    """Campaign ids like ``winback-2023-05`` (launch year and month), by campaign number."""
    dates = raw.calendar.start + pd.to_timedelta(raw.campaigns, unit="D")
    return np.asarray([f"winback-{d:%Y-%m}" for d in dates], dtype=object)


def _arrow_column(series: pd.Series, date_only: bool) -> pa.Array:
    """One column as CSV-ready Arrow: ISO text for times, true/false, nulls for unknown."""
    dtype = str(series.dtype)
    if dtype.startswith("datetime"):
        text = np.datetime_as_string(series.to_numpy(), unit="D" if date_only else "s")
        return pa.array(text, mask=series.isna().to_numpy())
    if dtype == "boolean":
        return pa.array(series.to_numpy(dtype=bool, na_value=False), mask=series.isna().to_numpy())
    return pa.array(series.to_numpy(), from_pandas=True)


def write_csvs(tables: Tables, out_dir: Path) -> None:
    """Write the tables (and campaign members, when any) as contract CSVs: ISO dates, true/false, empty = unknown.

    Uses Arrow's C++ CSV writer (a million-patient export is ~15M rows); values are only
    quoted when some value needs it (e.g. a comma in a clinic id).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    frames = {"patients": tables.patients, "visits": tables.visits, "contacts": tables.contacts}
    if tables.campaign_members is not None:
        frames["campaign_members"] = tables.campaign_members
    date_only = {"birth_date", "created_at"}
    for name, frame in frames.items():
        table = pa.table({c: _arrow_column(frame[c], c in date_only) for c in frame.columns})
        path = out_dir / f"{name}.csv"
        with path.open("wb") as fh:
            fh.write((",".join(frame.columns) + "\n").encode())
            try:
                pacsv.write_csv(table, fh, pacsv.WriteOptions(include_header=False,
                                                              quoting_style="none"))
            except pa.ArrowInvalid:
                fh.seek(0)
                fh.truncate()
                fh.write((",".join(frame.columns) + "\n").encode())
                pacsv.write_csv(table, fh, pacsv.WriteOptions(include_header=False))
