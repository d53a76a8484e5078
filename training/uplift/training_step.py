"""The uplift step of a training run: fit, backtest, and resolve the default ordering.

Kept out of ``training.fit`` so that file stays wiring: this function receives what the run
already built (snapshot rows, contact rows, the return and channel models) and returns the
bundle's uplift model and the evaluation section ``uplift``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from features.config import Settings
from features.export.tables import Tables
from features.pipeline.events import Prepared
from features.vocabulary import CHANNELS
from training.channel_choice import reachable_channels
from training.uplift.evaluation import held_out_campaigns, oracle_table
from training.uplift.metrics import NORMALISATION
from training.uplift.model import (
    INCREMENTAL,
    PROBABILITY,
    UpliftModel,
    fit_uplift,
    model_matrix,
)
from training.uplift.rows import known_by, member_rows


def uplift_step(
    tables: Tables, prepared: Prepared, snapshot_rows: pd.DataFrame, contacts: pd.DataFrame,
    until: pd.Timestamp, as_of: pd.Timestamp, model: Any, channel: Any,
    validation: pd.DataFrame, p_val: np.ndarray, truth: Any, settings: Settings,
) -> tuple[UpliftModel, dict[str, Any]]:
    """Fit on data known by ``until``; backtest on campaigns launched after it (by ``as_of``).

    Returns:
        The uplift model (ordering resolved) and ``{"available", "reason", "learner",
        "held_out_campaigns", "oracle", "ordering", "ordering_reason"}``.
    """
    everything = member_rows(tables, prepared, as_of, settings)  # one feature build a launch
    uplift, _ = fit_uplift(tables, prepared, snapshot_rows, contacts, until, model, settings,
                           channel, known_by(everything, until))
    report: dict[str, Any] = {"available": uplift.available, "reason": uplift.reason,
                              "learner": settings.training.uplift_learner,
                              "normalisation": NORMALISATION,
                              "held_out_campaigns": None, "oracle": None}
    if uplift.available:
        later = everything
        if not later.empty:
            later = later.loc[later["assigned_at"] > pd.Timestamp(until)].reset_index(drop=True)
        if len(later):
            x = model_matrix(later, model)
            report["held_out_campaigns"] = held_out_campaigns(
                later, uplift.predict_matrix(x, response=_response(channel, x, model)),
                model.predict(later), reachable_channels(later, settings))
        if truth is not None:
            report["oracle"] = _oracle(validation, p_val, model, channel, uplift, truth,
                                       settings)
    uplift.ordering, uplift.ordering_reason = _ordering(uplift, report, settings)
    uplift.metrics = {k: v for k, v in report.items() if k != "oracle"}
    report["ordering"], report["ordering_reason"] = uplift.ordering, uplift.ordering_reason
    return uplift, report


def _oracle(validation: pd.DataFrame, p_val: np.ndarray, model: Any, channel: Any,
            uplift: UpliftModel, truth: Any, settings: Settings) -> dict[str, Any] | None:
    allowed = reachable_channels(validation, settings)
    dnc = validation["do_not_contact"].astype("boolean").fillna(False).to_numpy(bool)
    eligible = allowed.any(axis=1) & ~dnc
    rows = validation.loc[eligible].reset_index(drop=True)
    x = model_matrix(rows, model)
    p_ch = channel.predict(rows)[[f"p_{c}" for c in CHANNELS]].to_numpy() \
        if channel is not None else None
    tau = uplift.predict_matrix(x, response=p_ch)
    return oracle_table(rows[["as_of", "patient_id"]], tau, p_ch, p_val[eligible],
                        rows["days_since_last_visit"].to_numpy(float),
                        allowed[eligible], truth.channels)


def _response(channel: Any, x: np.ndarray, model: Any) -> np.ndarray | None:
    """Channel-model probabilities of a return-model matrix (None without a channel model)."""
    return channel.predict_matrix(x, model.features).to_numpy() if channel is not None else None


def _ordering(uplift: UpliftModel, report: dict[str, Any], settings: Settings) -> tuple[str, str]:
    wanted = settings.training.default_ordering
    if not uplift.available:
        return PROBABILITY, f"ranked by return probability: {uplift.reason}"
    if wanted == PROBABILITY:
        return PROBABILITY, "ranked by return probability: set by training.default_ordering"
    if wanted == INCREMENTAL:
        return INCREMENTAL, "ranked by incremental value: set by training.default_ordering"
    held = report["held_out_campaigns"]
    if held is None:
        return PROBABILITY, ("ranked by return probability: no campaign after the training "
                             "data to check the uplift model on")
    verb = "ranked by incremental value" if held["ordering"] == INCREMENTAL \
        else "ranked by return probability"
    return held["ordering"], f"{verb}: {held['ordering_reason']}"
