"""Small demo clinics for the drift tests: simulated exports, shifts, and a stand-in scorer.

The stand-in scorer is a fixed formula of the features (a frozen "model"), so the drift tests
exercise the score and channel checks without training anything; the CLI tests use a real
model bundle.
"""

from __future__ import annotations

import dataclasses
from functools import cache

import numpy as np
import pandas as pd

from features.config import Settings
from features.export.tables import Tables
from features.pipeline.assemble import build
from features.simulator import simulate
from features.vocabulary import CHANNELS

AS_OF = "2026-06-30"
START = "2024-01-01"
PATIENTS = 1200  # above 1,000 rows Evidently uses distance tests, as with a real reference


@cache
def clinic_tables(seed: int) -> Tables:
    """One simulated clinic (same settings, different seed); cached for the session."""
    return simulate(PATIENTS, seed=seed, start=START, end=AS_OF).tables


def scored(tables: Tables, settings: Settings) -> pd.DataFrame:
    """Features as of ``AS_OF`` plus stand-in scores, shaped like a scored snapshot."""
    frame = build(tables, AS_OF, settings).reset_index()
    days = frame["days_since_last_visit"].fillna(2000.0)
    logit = 0.8 - 0.006 * days + 0.25 * frame["visits_12m"] - 1.5 * frame["noshow_rate"]
    # The patient's own answers per channel plus an age preference (texts for the young,
    # calls and letters for the old): a function of the patient alone, so two clinics of the
    # same kind differ only by sampling, not by clinic-level priors flipping ties.
    sent = frame[[f"{c}_sent" for c in CHANNELS]].to_numpy(dtype=float)
    answered = frame[[f"{c}_responses" for c in CHANNELS]].to_numpy(dtype=float)
    own = np.nan_to_num(answered) / np.maximum(np.nan_to_num(sent), 1.0)
    age = (frame["age_years"].fillna(45.0).to_numpy(dtype=float) - 45.0)[:, None]
    preference = own + age * np.array([-0.01, -0.005, 0.01, 0.005])
    return frame.assign(
        return_probability=1.0 / (1.0 + np.exp(-logit)),
        best_channel=np.array(CHANNELS)[np.argmax(preference, axis=1)],
    )


def _recent(ts: pd.Series, days: int) -> pd.Series:
    return ts >= pd.Timestamp(AS_OF) - pd.Timedelta(days=days)


def prices_up(tables: Tables, factor: float = 1.4) -> Tables:
    """Every visit of the last year cost ``factor`` times more."""
    visits = tables.visits.copy()
    recent = _recent(visits["visit_at"], 365)
    visits.loc[recent, "revenue"] = visits.loc[recent, "revenue"] * factor
    return dataclasses.replace(tables, visits=visits)


def location_closed(tables: Tables, location: str = "downtown") -> Tables:
    """The busiest location closed a year ago: its visits since then never happened."""
    visits = tables.visits
    gone = (visits["location_id"] == location) & _recent(visits["visit_at"], 365)
    return dataclasses.replace(tables, visits=visits.loc[~gone].copy())


def new_service(tables: Tables, share: float = 0.5, seed: int = 0) -> Tables:
    """A new treatment took ``share`` of the visits of the last six months."""
    visits = tables.visits.copy()
    rng = np.random.default_rng(seed)
    switch = _recent(visits["visit_at"], 182).to_numpy() & (rng.random(len(visits)) < share)
    visits.loc[switch, "service"] = "microneedling"
    return dataclasses.replace(tables, visits=visits)


def older_population(tables: Tables, years: int = 15) -> Tables:
    """Every patient born ``years`` earlier."""
    patients = tables.patients.copy()
    patients["birth_date"] = patients["birth_date"] - pd.DateOffset(years=years)
    return dataclasses.replace(tables, patients=patients)
