"""Training rows of the uplift learners: randomised campaign members and no-contact rows.

Why these windows: a member's outcome is a booking within ``attribution_days + lag`` days
from the campaign's launch (``assigned_at``), the same window for both arms, where ``lag``
is the campaign's median delay to the first attempt. Counting from launch for both arms
keeps the comparison randomised (a window from each patient's own first contact would drop
treated patients who booked before being reached). Features are as of the day before the
launch, so everything a member row knows predates its assignment.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.config import Settings
from features.export.tables import Tables
from features.pipeline.assemble import build_prepared
from features.pipeline.events import Prepared
from features.pipeline.grouping import time_ordinals
from features.vocabulary import CHANNELS, TREATMENT, booking_moment, cutoff
from training.context import add_context
from training.uplift.design import CONTROL


def booked_between(tables: Tables, patient_id: np.ndarray, start: np.ndarray,
                   days: np.ndarray | int) -> np.ndarray:
    """0/1: the patient made a booking at or after ``start`` and before ``start + days``.

    ``days`` is one number or one per row; call it once for many rows (each call sorts the
    export's bookings of these patients).

    Why integer keys and not a ``merge_asof`` by patient id: that merge hashed and sorted
    ten million bookings by their string ids on each of the three calls of a training run,
    gigabytes at a million patients. Here the bookings of the patients asked about become one
    sorted int64 key (patient code, booking time), and each row is two binary searches: is
    there a key in [(patient, start), (patient, start + days))?
    """
    ids = np.asarray(patient_id, dtype=object)
    start = np.asarray(start, "datetime64[ns]")
    n = len(start)
    end = start + np.broadcast_to(np.asarray(days), n).astype("timedelta64[D]")
    v = tables.visits
    at = booking_moment(v["booked_at"].to_numpy(), v["visit_at"].to_numpy())
    asked = pd.Index(pd.unique(ids))
    code = asked.get_indexer(v["patient_id"].to_numpy(dtype=object))
    known = (code >= 0) & ~np.isnat(at)
    code, at = code[known], at[known]
    (t_b, t_s, t_e), span = time_ordinals(at, start, end)
    if len(asked) * span >= 2**62:  # too fine a clock for one key: rank the moments instead
        uniques, inverse = np.unique(np.concatenate([t_b, t_s, t_e]), return_inverse=True)
        t_b, t_s, t_e = np.split(inverse, [len(t_b), len(t_b) + n])
        span = len(uniques)
    key = np.sort(code * span + t_b)
    base = asked.get_indexer(ids).astype(np.int64) * span  # -1: no booking can match
    hit = np.searchsorted(key, base + t_e, "left") > np.searchsorted(key, base + t_s, "left")
    return hit.astype(np.int8)


def member_rows(tables: Tables, prepared: Prepared, until: pd.Timestamp,
                settings: Settings) -> pd.DataFrame:
    """One row per campaign member whose outcome window ends by ``until``, oldest first.

    Features are built once per launch day (campaigns of several clinics often share one),
    and the outcomes of every member are looked up in one pass over the bookings.

    Returns:
        Frame with ``campaign_id``, ``assigned_at``, ``patient_id``, the feature columns as
        of the day before launch, ``treatment`` (``CONTROL`` for the holdout, else the code
        of the first attempt's channel; -2 for a treated member never contacted), ``y`` and
        ``outcome_end`` (the first instant after the member's outcome window: see
        :func:`known_by`). Empty without campaign members.
    """
    members = tables.campaign_members
    if members is None or members.empty:
        return pd.DataFrame()
    attribution = settings.features.attribution_days
    first = _first_attempts(tables)
    groups = []
    for (campaign, assigned), part in members.groupby(["campaign_id", "assigned_at"], sort=True):
        start = pd.Timestamp(assigned).normalize()
        got = first.loc[first["campaign_id"] == campaign]
        lag = int(((got["sent_at"].dt.normalize() - start).dt.days.clip(lower=0)).median()) \
            if len(got) else 0
        days = attribution + lag
        if start + pd.Timedelta(days=days) <= cutoff(until):
            groups.append((campaign, start, days, part, got))
    blocks: dict[int, pd.DataFrame] = {}
    for as_of in sorted({start - pd.Timedelta(days=1) for _, start, *_ in groups}):
        feats = add_context(build_prepared(prepared, as_of, settings), tables, as_of,
                            settings.horizon_days, prepared)
        for g, (campaign, start, days, part, got) in enumerate(groups):
            if start - pd.Timedelta(days=1) == as_of:
                blocks[g] = _member_block(feats, campaign, start, days, part, got)
        del feats
    if not blocks:
        return pd.DataFrame()
    rows = pd.concat([blocks[g] for g in range(len(groups))], ignore_index=True)
    days = np.concatenate([np.full(len(blocks[g]), groups[g][2]) for g in range(len(groups))])
    start = rows["assigned_at"].to_numpy("datetime64[ns]")
    rows["y"] = booked_between(tables, rows["patient_id"].to_numpy(dtype=object), start, days)
    rows["outcome_end"] = start + days.astype("timedelta64[D]")
    return rows


def _member_block(feats: pd.DataFrame, campaign: str, start: pd.Timestamp, days: int,
                  part: pd.DataFrame, got: pd.DataFrame) -> pd.DataFrame:
    """The rows of one campaign launch: features, arm and first channel (``y`` comes later)."""
    ids = part["patient_id"].to_numpy(dtype=object)
    rows = feats.reindex(ids).reset_index()
    rows.insert(0, "assigned_at", start)
    rows.insert(0, "campaign_id", campaign)
    channel = pd.Series(ids).map(got.set_index("patient_id")["channel"]).map(
        {c: i for i, c in enumerate(CHANNELS)})
    treated = (part["arm"] == TREATMENT).to_numpy()
    rows["treatment"] = np.where(treated, channel.fillna(-2).to_numpy(), CONTROL).astype(int)
    return rows


def known_by(members: pd.DataFrame, until: pd.Timestamp) -> pd.DataFrame:
    """The member rows whose outcome window ends by the end of day ``until`` (what
    ``member_rows(..., until, ...)`` returns), from rows built for a later date."""
    if members.empty:
        return members
    inside = (members["outcome_end"] <= cutoff(until)).to_numpy()
    return members.loc[inside].reset_index(drop=True)


def _first_attempts(tables: Tables) -> pd.DataFrame:
    c = tables.contacts
    if c is None or c.empty:
        return pd.DataFrame(columns=["campaign_id", "patient_id", "sent_at", "channel"])
    c = c.loc[c["campaign_id"].notna(), ["campaign_id", "patient_id", "sent_at", "channel"]]
    c = c.sort_values("sent_at", kind="stable")
    return c.drop_duplicates(["campaign_id", "patient_id"], keep="first")


def control_rows(rows: pd.DataFrame, tables: Tables, until: pd.Timestamp,
                 settings: Settings) -> pd.DataFrame:
    """Snapshot rows without a contact near them, labelled with a booking in the window.

    Args:
        rows: the return model's snapshot rows (``as_of``, ``patient_id``, features).
        tables: the export (visits for the label, contacts to leave contacted rows out).
        until: label windows must end by the end of this day.
        settings: ``features.attribution_days`` is the window.

    Returns:
        The rows kept, oldest first, with ``y`` (0/1 booking on days T+1 .. T+A). A row is
        left out when the patient got a contact within A days before T+1 (its effect may
        still act) or within the window itself.
    """
    a = settings.features.attribution_days
    start = (rows["as_of"] + pd.Timedelta(days=1)).to_numpy("datetime64[ns]")
    keep = start + np.timedelta64(a, "D") <= np.datetime64(cutoff(until))
    out = rows.loc[keep].reset_index(drop=True)
    start = start[keep]
    if tables.contacts is not None and not tables.contacts.empty:
        near = booked_between(
            _as_bookings(tables.contacts), out["patient_id"].to_numpy(dtype=object),
            start - np.timedelta64(a, "D"), 2 * a)
        out, start = out.loc[near == 0].reset_index(drop=True), start[near == 0]
    out["y"] = booked_between(tables, out["patient_id"].to_numpy(dtype=object), start, a)
    return out.sort_values("as_of", kind="stable", ignore_index=True)


def _as_bookings(contacts: pd.DataFrame) -> Tables:
    """Contacts dressed as visits so :func:`booked_between` finds "a contact in a window"."""
    visits = pd.DataFrame({"patient_id": contacts["patient_id"].to_numpy(dtype=object),
                           "booked_at": contacts["sent_at"].to_numpy(),
                           "visit_at": contacts["sent_at"].to_numpy()})
    return Tables(visits=visits, patients=pd.DataFrame(), contacts=None,
                  export_date=pd.Timestamp(contacts["sent_at"].max()))


def pull_rows(rows: pd.DataFrame, tables: Tables, until: pd.Timestamp, window_days: int,
              long_days: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Snapshot rows labelled for the pull-forward learner, oldest first.

    Args:
        rows: the return model's snapshot rows (``as_of``, ``patient_id``, features).
        tables: the export (its visits give the booking moments).
        until: both label windows must end by the end of this day.
        window_days: W (the attribution window); long_days: L.

    Returns:
        The rows kept (those whose long window ends by ``until``), ``y_window`` and
        ``y_long``: 0/1 a booking on days T+1 .. T+W and T+1 .. T+L.
    """
    start = (rows["as_of"] + pd.Timedelta(days=1)).to_numpy("datetime64[ns]")
    keep = start + np.timedelta64(long_days, "D") <= np.datetime64(cutoff(until))
    out = rows.loc[keep].sort_values("as_of", kind="stable", ignore_index=True)
    start = (out["as_of"] + pd.Timedelta(days=1)).to_numpy("datetime64[ns]")
    ids = out["patient_id"].to_numpy(dtype=object)
    y_window = booked_between(tables, ids, start, window_days).astype(float)
    y_long = booked_between(tables, ids, start, long_days).astype(float)
    return out, y_window, y_long
