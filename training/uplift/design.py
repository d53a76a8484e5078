"""Shared plumbing of the uplift learners: channel-aware matrices and LightGBM settings.

Why one place: every learner that lets the effect depend on the channel lays its inputs out
like the channel model (``training.channel_model``): the return-model inputs, then the
channel code and the patient's own history *on that channel* (``channel_<suffix>``). A
learner predicts channel c by rewriting those columns of one base matrix, so scoring builds
the patient matrix once.
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np

from features.vocabulary import CHANNELS
from training.channel_model import channel_features
from training.contact_rows import SUFFIXES

CONTROL = -1  # treatment code of a row that was not contacted (holdout or no contact)


def channel_matrix(x_base: np.ndarray, base: list[str], channel: np.ndarray) -> np.ndarray:
    """The channel-aware matrix for rows contacted (or to be contacted) on ``channel``.

    Args:
        x_base: return-model input matrix (``training.matrix.to_matrix``).
        base: its column names.
        channel: per row, a code into ``CHANNELS`` (a scalar code applies to every row).

    Returns:
        float32 matrix with the columns of ``channel_features(base)``.
    """
    n, k = x_base.shape
    features = channel_features(base)
    position = {name: j for j, name in enumerate(base)}
    code = np.broadcast_to(np.asarray(channel), (n,))
    x = np.empty((n, len(features)), dtype=np.float32, order="F")
    x[:, :k] = x_base
    x[:, k] = code
    for i, suffix in enumerate(SUFFIXES):
        column = np.full(n, np.nan, dtype=np.float32)
        for c, ch in enumerate(CHANNELS):
            rows = code == c
            if rows.any():
                column[rows] = x_base[rows, position[f"{ch}_{suffix}"]]
        x[:, k + 1 + i] = column
    return x


def per_channel(x_base: np.ndarray, base: list[str]):  # noqa: ANN201 - generator
    """Yield ``(code, matrix)`` for each channel, rewriting one buffer in place (scoring path).

    The matrix is only valid until the next item: callers predict with it at once.
    """
    x = channel_matrix(x_base, base, 0)
    k = x_base.shape[1]
    position = {name: j for j, name in enumerate(base)}
    for code, ch in enumerate(CHANNELS):
        x[:, k] = code
        for i, suffix in enumerate(SUFFIXES):
            x[:, k + 1 + i] = x_base[:, position[f"{ch}_{suffix}"]]
        yield code, x


def categorical_columns(features: list[str], levels: dict[str, list[str]]) -> list[int]:
    """Positions of the categorical inputs (the channel among them)."""
    return [j for j, f in enumerate(features) if f in levels or f == "channel"]


def lgb_uplift_params(seed: int, threads: int, *, leaves: int = 15, min_leaf: int = 100,
                      rate: float = 0.05) -> dict[str, object]:
    """Small, strongly regularised trees: uplift signals are weak and data is thin."""
    return {
        "objective": "binary", "learning_rate": rate, "num_leaves": leaves,
        "min_data_in_leaf": min_leaf, "lambda_l2": 10.0, "feature_fraction": 0.8,
        "max_cat_to_onehot": 8, "cat_smooth": 10.0, "seed": seed, "deterministic": True,
        "force_row_wise": True, "num_threads": threads, "verbose": -1,
    }


def fit_booster(params: dict[str, object], x: np.ndarray, y: np.ndarray, names: list[str],
                cats: list[int], rounds: int, *, init: np.ndarray | None = None,
                valid_share: float = 0.2, fobj_params: dict | None = None) -> lgb.Booster:
    """Fit on the oldest rows, choose the rounds on the latest ``valid_share``, refit on all.

    Rows must be in time order (the split is a time split, never random).
    """
    cut = int(len(y) * (1 - valid_share))
    params = {**params, **(fobj_params or {})}
    init_tr = None if init is None else init[:cut]
    init_va = None if init is None else init[cut:]
    best = rounds
    if 0 < cut < len(y) and len(np.unique(y[cut:])) > 1:
        dtr = lgb.Dataset(x[:cut], y[:cut], feature_name=names, categorical_feature=cats,
                          init_score=init_tr, free_raw_data=True)
        dva = lgb.Dataset(x[cut:], y[cut:], reference=dtr, init_score=init_va)
        booster = lgb.train(params, dtr, num_boost_round=rounds, valid_sets=[dva],
                            callbacks=[lgb.early_stopping(20, verbose=False)])
        best = max(booster.best_iteration or booster.current_iteration(), 1)
    dall = lgb.Dataset(x, y, feature_name=names, categorical_feature=cats, init_score=init)
    return lgb.train(params, dall, num_boost_round=best)
