"""Scored-snapshot uplift columns: effect per channel, and what it is worth net of cost.

``incremental_value_<c>`` = ``uplift_<c>`` x expected revenue of the visit - the channel's
cost (``settings.policy.channel_costs``): what contacting the patient on c adds, in money.
``uplift`` and ``incremental_value`` are those of the allowed channel with the highest
incremental value (the channel choice wired into ``best_channel`` at merge time uses the
per-channel values returned here). Without an uplift model every value is NaN.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from features.config import Settings
from features.vocabulary import CHANNELS, NO_ALLOWED_CHANNEL


def uplift_columns(frame: pd.DataFrame, x: np.ndarray, bundle: Any,
                   settings: Settings) -> dict[str, np.ndarray]:
    """Uplift columns for a scored frame.

    Args:
        frame: the feature frame being scored (``consent_*``, ``opted_out_*``,
            ``expected_revenue_per_visit``).
        x: the return model's input matrix of ``frame`` (``bundle.matrix``).
        bundle: the ``training.bundle.ModelBundle``.
        settings: ``policy.channel_costs``, ``training.scoring_threads``.

    Returns:
        ``uplift_<channel>``, ``incremental_value_<channel>`` (NaN where the channel is not
        allowed), ``uplift``, ``incremental_value`` and ``uplift_channel`` (``none`` when no
        channel is allowed or no uplift model).
    """
    from training.channel_choice import reachable_channels

    n = len(frame)
    model = getattr(bundle, "uplift_model", None)
    tau = model.predict_matrix(x, settings.training.scoring_threads) if model else None
    if tau is None:
        tau = np.full((n, len(CHANNELS)), np.nan)
    allowed = reachable_channels(frame, settings)
    revenue = pd.to_numeric(frame["expected_revenue_per_visit"], errors="coerce").to_numpy(float)
    cost = np.array([settings.policy.channel_costs.get(c, 0.0) for c in CHANNELS])
    value = np.where(allowed, tau * np.nan_to_num(revenue)[:, None] - cost[None, :], np.nan)
    ranked = np.where(np.isnan(value), -np.inf, value)
    pick = np.argmax(ranked, axis=1)
    rows = np.arange(n)
    has = np.isfinite(ranked[rows, pick])
    out: dict[str, np.ndarray] = {}
    for j, ch in enumerate(CHANNELS):
        out[f"uplift_{ch}"] = tau[:, j]
    for j, ch in enumerate(CHANNELS):
        out[f"incremental_value_{ch}"] = value[:, j]
    out["uplift"] = np.where(has, tau[rows, pick], np.nan)
    out["incremental_value"] = np.where(has, value[rows, pick], np.nan)
    out["uplift_channel"] = np.where(has, np.asarray(CHANNELS, dtype=object)[pick],
                                     NO_ALLOWED_CHANNEL)
    return out
