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
from features.spec import FeatureSpec
from features.vocabulary import COMPLETED, cutoff

CONTEXT_SPECS: tuple[FeatureSpec, ...] = (
    FeatureSpec(
        name="season_index",
        meaning="Clinic's completed visits in the coming horizon's calendar window one year "
                "earlier, relative to its average over the last year (1 = an average stretch)",
        unit="ratio", kind="numeric", model_input=True, family="context", pooled=True,
    ),
)
CONTEXT_FEATURES: tuple[str, ...] = tuple(s.name for s in CONTEXT_SPECS)


def season_index(tables: Tables, as_of: str | pd.Timestamp, horizon_days: int) -> pd.Series:
    """``season_index`` per clinic at ``as_of`` (NaN without a full year of history).

    Returns:
        Series indexed by ``clinic_id``.
    """
    end = cutoff(as_of)
    year_ago = end - pd.Timedelta(days=365)
    visits = tables.visits
    done = visits.loc[(visits["status"].fillna(COMPLETED) == COMPLETED).to_numpy()
                      & (visits["visit_at"] >= year_ago).to_numpy()
                      & (visits["visit_at"] < end).to_numpy(), ["patient_id", "visit_at"]]
    clinic_of = tables.patients.set_index("patient_id")["clinic_id"].fillna("default")
    clinic = clinic_of.reindex(done["patient_id"]).to_numpy()
    in_window = (done["visit_at"] < year_ago + pd.Timedelta(days=horizon_days)).to_numpy()
    frame = pd.DataFrame({"clinic_id": clinic, "window": in_window})
    counts = frame.groupby("clinic_id")["window"].agg(["sum", "size"])
    with np.errstate(divide="ignore", invalid="ignore"):
        index = counts["sum"] / (counts["size"] * horizon_days / 365.0)
    # A clinic with less than a year of history has no season to compare with; decided per
    # clinic, so a clinic's index does not depend on when the others started.
    first = pd.Series(visits["visit_at"].to_numpy(), index=clinic_of.reindex(
        visits["patient_id"]).to_numpy()).groupby(level=0).min()
    young = first.reindex(index.index).isna() | ~(first.reindex(index.index) <= year_ago)
    index = index.where(~young.to_numpy())
    return index.astype(float).rename("season_index")


def add_context(
    frame: pd.DataFrame, tables: Tables, as_of: str | pd.Timestamp, horizon_days: int
) -> pd.DataFrame:
    """A copy of a feature frame (with ``clinic_id``) plus the context columns at ``as_of``."""
    index = season_index(tables, as_of, horizon_days)
    out = frame.copy()
    out["season_index"] = out["clinic_id"].map(index).astype(float).to_numpy()
    return out
