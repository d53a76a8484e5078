"""The backtest per practice type: the same forecasts, scored on each type's rows.

Why a breakdown: one AUC over a mixed group hides where the model is weak - a dental recall
and a physiotherapy course of care make "days since the last visit" mean different things.
The groups are the clinics' practice types when a clinic-level attribute says them (the demo
truth's ``clinics``); otherwise each clinic is its own group. The practice type is never a
model feature: a real export does not carry it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.simulator.truth_files import Truth
from training.evaluation import return_forecasts
from training.metrics import score_forecast

ALL = "all"


def row_groups(validation: pd.DataFrame, truth: Truth | None) -> np.ndarray | None:
    """Group label per validation row (practice type, else clinic id); None for one group."""
    clinic = validation["clinic_id"].astype(object).fillna("default").to_numpy()
    if truth is not None and truth.clinics:
        groups = pd.Series(clinic).map(truth.clinics).fillna("unknown").to_numpy(dtype=object)
    else:
        groups = clinic
    return groups if len(set(groups)) > 1 else None


def by_group(
    validation: pd.DataFrame,
    calibration: pd.DataFrame,
    model_p: np.ndarray,
    visits: pd.DataFrame,
    horizon_days: int,
    truth: Truth | None = None,
    *,
    forecasts: dict[str, tuple[np.ndarray, np.ndarray | None, dict]] | None = None,
) -> dict[str, dict[str, dict[str, float]]] | None:
    """``{group: {forecaster: metrics}}`` per practice type (and ``all``), or None when the
    validation rows hold a single group (arguments of ``evaluation.return_table``).

    The validation rows are the training population (by default: a completed visit, nothing
    booked at T), so each group's AUC is the reactivation question for that practice type.
    ``forecasts``: ``evaluation.return_forecasts`` of these arguments, when already made.
    """
    groups = row_groups(validation, truth)
    if groups is None:
        return None
    if forecasts is None:
        forecasts = return_forecasts(validation, calibration, model_p, visits, horizon_days,
                                     truth)
    y = validation["label"].to_numpy()
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name in [*sorted(set(groups)), ALL]:
        rows = np.ones(len(y), bool) if name == ALL else groups == name
        out[name] = {who: score_forecast(y[rows], p[rows], None if rank is None else rank[rows])
                     for who, (p, rank, _) in forecasts.items()}
    return out
