"""Demographics and current-state flags from the patients table.

Why: age and sex shape treatment patterns (and so return rates); how long someone has been a
patient of the clinic says how settled the relationship is. ``do_not_contact`` and
``deceased`` carry no date: they describe the patient at the export date, so they are returned
for the contact policy only and are never model inputs.

As of T: age is measured at the as-of day; registration counts only when ``created_at`` is
before the cutoff (midnight after day T). Missing columns give missing values; missing
current-state flags mean "not flagged".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.config import Settings
from features.export.tables import Tables
from features.spec import typed_frame
from features.vocabulary import as_timestamp, cutoff


def build(tables: Tables, as_of: str | pd.Timestamp, settings: Settings) -> pd.DataFrame:
    """Demographic features of every patient of ``tables`` as of the end of day ``as_of``.

    Returns:
        Frame indexed by ``patient_id`` with ``age_years`` (whole years at T; NaN when the
        birth date is unknown or after T), ``sex``, ``days_since_registration`` (NaN when
        unknown or not yet registered at T), ``do_not_contact`` and ``deceased`` (booleans).
    """
    return from_patients(tables.patients.reset_index(drop=True), as_of, settings)


def from_patients(
    patients: pd.DataFrame, as_of: str | pd.Timestamp, settings: Settings
) -> pd.DataFrame:
    """Demographic features from a positional patients frame (see :func:`build`)."""
    index = pd.Index(patients["patient_id"].astype(object), name="patient_id")
    return typed_frame(columns(patients, as_of, settings), index, "demographics")


def columns(
    patients: pd.DataFrame, as_of: str | pd.Timestamp, settings: Settings
) -> dict[str, np.ndarray]:
    """Demographic columns as arrays in the row order of ``patients`` (see :func:`build`)."""
    del settings
    day = as_timestamp(as_of)
    birth = patients["birth_date"]
    created = patients["created_at"]
    before_birthday = (birth.dt.month > day.month) | (
        (birth.dt.month == day.month) & (birth.dt.day > day.day)
    )
    age = (day.year - birth.dt.year - before_birthday.astype(int)).to_numpy(np.float64)
    registered = (day - created.dt.normalize()).dt.days.to_numpy(np.float64)
    out = {
        "age_years": np.where(age >= 0, age, np.nan),
        "sex": np.array(patients["sex"], dtype=object),  # a copy: never alias the input
        "days_since_registration": np.where((created < cutoff(as_of)).to_numpy(), registered,
                                            np.nan),
        "do_not_contact": patients["do_not_contact"].astype("boolean").fillna(False).to_numpy(bool),
        "deceased": patients["deceased"].astype("boolean").fillna(False).to_numpy(bool),
    }
    return out
