"""Scoring: the champion bundle applied to every patient as of a date.

Why scoring is split from feature building: the feature build is the data layer's job and
its cost; :func:`score_features` is the part this layer owns (and benchmarks). It works on
numpy matrices (``training.matrix``) and predicts every channel from one matrix, so a
million patients score in seconds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import features
from features.config import Settings
from features.export.tables import Tables
from features.spec import FEATURE_NAMES
from features.vocabulary import CHANNELS
from training.bundle import ModelBundle
from training.context import CONTEXT_FEATURES, add_context
from training.uplift.columns import uplift_columns

UPLIFT_COLUMNS: tuple[str, ...] = (
    *(f"uplift_{c}" for c in CHANNELS), "uplift", "incremental_value",
)

SCORE_COLUMNS: tuple[str, ...] = (
    "patient_id", "clinic_id", "return_probability", "best_channel",
    *(f"p_{c}" for c in CHANNELS), "expected_value", "segment", "days_since_last_visit",
    "last_service",
)
NO_CHANNEL_MODEL = "unknown"
NO_ALLOWED_CHANNEL = "none"


def score(
    tables: Tables, as_of: str | pd.Timestamp, bundle: ModelBundle, settings: Settings
) -> pd.DataFrame:
    """The scored snapshot of ``tables`` as of the end of day ``as_of``.

    Returns:
        See :func:`score_features`.
    """
    frame = features.build(tables, as_of, settings)
    horizon = int(bundle.window.get("horizon_days", settings.horizon_days))  # as trained
    return score_features(add_context(frame, tables, as_of, horizon), bundle, settings)


def score_features(
    frame: pd.DataFrame, bundle: ModelBundle, settings: Settings
) -> pd.DataFrame:
    """Scores for a feature frame of ``features.build`` plus ``training.context.add_context``.

    Only patients with at least one completed visit are scored (the model knows nothing of
    the others). Deceased, do-not-contact and booked patients are kept, with their flags:
    the contact policy in ``serving`` decides who may be listed.

    Returns:
        Frame with a default index and columns ``patient_id``, ``clinic_id``,
        ``return_probability`` (calibrated), ``best_channel`` (among the channels the
        patient allows now - consented and not opted out; ``none`` if no channel is
        allowed; ``unknown`` without a channel model), ``p_sms``, ``p_email``, ``p_phone``,
        ``p_mail`` (booking probability if contacted on that channel, allowed or not; NaN
        without a channel model),
        ``expected_value`` (return probability x expected revenue per visit), ``segment``,
        ``days_since_last_visit``, ``last_service``, then every other column of
        ``features.spec.FEATURE_NAMES`` (policy inputs and model inputs) and the context
        columns.
    """
    keep = frame["visits_lifetime"].fillna(0).to_numpy() > 0
    frame = frame if keep.all() else frame.loc[keep]
    threads = settings.training.scoring_threads
    x = bundle.matrix(frame)
    raw = bundle.return_model.booster.predict(x, num_threads=threads)
    p_return = bundle.return_model.calibrator.transform(raw)
    n = len(frame)
    if bundle.channel_model is not None:
        allowed = allowed_channels(frame)
        probs = bundle.channel_model.predict_matrix(
            x, bundle.features, num_threads=threads).to_numpy()
        best = best_channels(probs, allowed, settings)
    else:
        probs = np.full((n, len(CHANNELS)), np.nan)
        best = np.full(n, NO_CHANNEL_MODEL, dtype=object)
    revenue = pd.to_numeric(frame["expected_revenue_per_visit"], errors="coerce").to_numpy()
    columns: dict[str, object] = {
        "patient_id": frame.index.to_numpy(dtype=object),
        "clinic_id": frame["clinic_id"].to_numpy(dtype=object),
        "return_probability": p_return,
        "best_channel": best,
        **{f"p_{c}": probs[:, j] for j, c in enumerate(CHANNELS)},
        "expected_value": p_return * revenue,
    }
    uplift = uplift_columns(frame, x, bundle, settings)  # issue 12: see training.uplift.columns
    columns.update({k: uplift[k] for k in UPLIFT_COLUMNS})
    for name in (*SCORE_COLUMNS, *FEATURE_NAMES, *CONTEXT_FEATURES):
        if name not in columns:
            columns[name] = frame[name].array
    # copy=False: one block per column, no consolidation - this frame is written out once.
    return pd.DataFrame({c: columns[c] for c in (*SCORE_COLUMNS, *columns)}, copy=False)


def allowed_channels(frame: pd.DataFrame) -> np.ndarray:
    """(n, channels) bool: consented now and not opted out, per ``CHANNELS`` order."""
    cols = []
    for ch in CHANNELS:
        consent = frame[f"consent_{ch}"].astype("boolean").fillna(False).to_numpy(bool)
        opted = frame[f"opted_out_{ch}"].astype("boolean").fillna(False).to_numpy(bool)
        cols.append(consent & ~opted)
    return np.column_stack(cols)


def best_channels(probs: np.ndarray, allowed: np.ndarray, settings: Settings) -> np.ndarray:
    """Best allowed channel per row: highest ``p - cost_weight x cost``; ``none`` if none."""
    cfg = settings.policy
    cost = np.array([cfg.channel_costs.get(c, 0.0) for c in CHANNELS])
    utility = np.where(allowed, probs - cfg.cost_weight * cost, -np.inf)
    utility = np.where(np.isnan(utility), -np.inf, utility)
    pick = np.asarray(CHANNELS, dtype=object)[np.argmax(utility, axis=1)]
    return np.where(allowed.any(axis=1), pick, NO_ALLOWED_CHANNEL)
