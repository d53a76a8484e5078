"""Clinic-level context of an as-of date: how busy the coming horizon usually is.

Why: the chance of a visit within the next 90 days swings with the season (summer and
year-end dips), and the patient features cannot see it. ``season_index`` compares the
clinic's completed visits in the same calendar window one year earlier (days T-365+1 …
T-365+H, all known at T) with its average volume over the last year, so a value of 0.8
means "this stretch of the year was 20 % quieter than usual". It is computed per clinic,
point in time, and the same for every patient of that clinic at T.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.export.tables import Tables
from features.pipeline.events import Prepared, prepare
from features.pipeline.grouping import first_rows
from features.spec import FeatureSpec
from features.vocabulary import COMPLETED_CODE, cutoff

CONTEXT_SPECS: tuple[FeatureSpec, ...] = (
    FeatureSpec(
        name="season_index",
        meaning="Clinic's completed visits in the coming horizon's calendar window one year "
                "earlier, relative to its average over the last year (1 = an average stretch)",
        unit="ratio", kind="numeric", model_input=True, family="context", pooled=True,
    ),
)
CONTEXT_FEATURES: tuple[str, ...] = tuple(s.name for s in CONTEXT_SPECS)


def season_index(
    tables: Tables, as_of: str | pd.Timestamp, horizon_days: int,
    prepared: Prepared | None = None,
) -> pd.Series:
    """``season_index`` per clinic at ``as_of`` (NaN without a full year of history).

    Computed on the export's prepared arrays (``features.pipeline.events.prepare``: patients
    as integer codes, visits sorted by patient): training asks for it at every snapshot,
    contact and campaign date, and hashing ten million visit ids each time cost seconds.

    Args:
        prepared: ``prepare(tables)`` when the caller has it (else it is prepared here).

    Returns:
        Series indexed by ``clinic_id`` (the clinics with a completed visit in the last year).
    """
    p = prepared if prepared is not None else prepare(tables)
    end = np.datetime64(cutoff(as_of).to_datetime64(), "ns")
    year_ago = end - np.timedelta64(365, "D")
    at, visits = p.visit_at, p.visits
    clinic = p.clinic[visits.pid]
    done = (visits.status == COMPLETED_CODE) & (at >= year_ago) & (at < end)
    in_window = at[done] < year_ago + np.timedelta64(horizon_days, "D")
    size = np.bincount(clinic[done], minlength=len(p.clinics))
    hits = np.bincount(clinic[done], weights=in_window, minlength=len(p.clinics))
    busy = np.flatnonzero(size)
    index = pd.Series(hits[busy] / (size[busy] * horizon_days / 365.0),
                      index=pd.Index(p.clinics[busy], name="clinic_id"))
    # A clinic with less than a year of history has no season to compare with; decided per
    # clinic, so a clinic's index does not depend on when the others started.
    first = first_rows(visits.pid)  # each patient's earliest visit (sorted by patient, time)
    dated = ~np.isnat(at[first])
    earliest = pd.Series(at[first][dated]).groupby(clinic[first][dated]).min()
    old = earliest.reindex(busy).to_numpy() <= year_ago
    return index.where(old).astype(float).rename("season_index")


def add_context(
    frame: pd.DataFrame, tables: Tables, as_of: str | pd.Timestamp, horizon_days: int,
    prepared: Prepared | None = None,
) -> pd.DataFrame:
    """A feature frame (with ``clinic_id``) plus the context columns at ``as_of``.

    The result shares the columns of ``frame`` (no copy of a million-row frame): callers pass
    a frame they built for this and do not change either afterwards.
    """
    index = season_index(tables, as_of, horizon_days, prepared)
    season = frame["clinic_id"].map(index).astype(float).to_numpy()
    return pd.DataFrame({**dict(frame.items()), "season_index": season}, index=frame.index,
                        copy=False)
