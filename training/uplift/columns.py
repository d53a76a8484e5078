"""Scored-snapshot uplift columns: effect per channel, and what it is worth net of cost.

``incremental_value_<c>`` = ``uplift_<c>`` x expected revenue of the visit - the channel's
cost (``settings.policy.channel_costs``): what contacting the patient on c adds, in money
(``training.channel_choice.incremental_values``). ``uplift`` and ``incremental_value`` are
those of the channel the one channel choice picks (``training.channel_choice``: the highest
incremental value among the reachable channels). Without an uplift model every value is NaN.
Pure numpy on the already-built matrix: the learner's boosters are predicted once.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from features.config import Settings
from features.vocabulary import CHANNELS
from training.channel_choice import (
    channel_labels,
    choose_channels,
    incremental_values,
    reachable_channels,
)


def uplift_columns(frame: pd.DataFrame, x: np.ndarray, bundle: Any, settings: Settings,
                   response: np.ndarray | None = None,
                   allowed: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Uplift columns for a scored frame.

    Args:
        frame: the feature frame being scored (``consent_*``, ``opted_out_*``,
            ``do_not_contact``, ``deceased``, ``expected_revenue_per_visit``).
        x: the return model's input matrix of ``frame`` (``bundle.matrix``).
        bundle: the ``training.bundle.ModelBundle``.
        settings: ``policy.channel_costs``, ``training.scoring_threads``.
        response: the channel model's ``(n, channels)`` probabilities (already predicted).
        allowed: ``training.channel_choice.reachable_channels`` of ``frame`` when the caller
            has it already (scoring), else computed here.

    Returns:
        ``uplift_<channel>``, ``incremental_value_<channel>`` (NaN where the channel is not
        allowed), ``uplift``, ``incremental_value`` and ``uplift_channel`` (``none`` when no
        channel is allowed; NaN values and ``none`` without an uplift model).
    """
    n = len(frame)
    model = getattr(bundle, "uplift_model", None)
    tau = model.predict_matrix(x, settings.training.scoring_threads, response) if model else None
    if tau is None:
        tau = np.full((n, len(CHANNELS)), np.nan)
    allowed = reachable_channels(frame, settings) if allowed is None else allowed
    revenue = pd.to_numeric(frame["expected_revenue_per_visit"], errors="coerce").to_numpy(float)
    value = incremental_values(tau, revenue, allowed, settings)
    pick = choose_channels(np.full(tau.shape, np.nan), allowed & ~np.isnan(value), settings,
                           value)
    rows = np.arange(n)
    has = pick >= 0
    safe = np.maximum(pick, 0)
    out: dict[str, np.ndarray] = {}
    for j, ch in enumerate(CHANNELS):
        out[f"uplift_{ch}"] = tau[:, j]
    for j, ch in enumerate(CHANNELS):
        out[f"incremental_value_{ch}"] = value[:, j]
    out["uplift"] = np.where(has, tau[rows, safe], np.nan)
    out["incremental_value"] = np.where(has, value[rows, safe], np.nan)
    out["uplift_channel"] = channel_labels(pick)
    return out
