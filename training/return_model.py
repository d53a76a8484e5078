"""The return model: LightGBM on snapshot rows, early-stopped and calibrated on later windows.

Why the split of roles: training rows are the oldest snapshots; the calibration snapshots
(later in time) decide when boosting stops and fit the calibrator; the validation snapshots
stay untouched for the evaluation and the champion comparison. A model is therefore always
judged on a period after everything it learned from.
"""

from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.special import expit

from features.config import Settings
from features.spec import BY_NAME, MODEL_FEATURES
from training.calibration import Calibrator, make_calibrator
from training.context import CONTEXT_FEATURES
from training.matrix import categorical_levels, to_matrix


def model_features() -> list[str]:
    """Return-model inputs: the spec's model inputs (current-state columns never are) and
    the clinic context of the as-of date (``training.context``)."""
    return [*MODEL_FEATURES, *CONTEXT_FEATURES]


def categorical_features(features: list[str]) -> list[str]:
    """The categorical columns among ``features``."""
    return [f for f in features if f in BY_NAME and BY_NAME[f].kind == "categorical"]


def lgb_params(settings: Settings, *, channel: bool = False) -> dict[str, object]:
    """LightGBM parameters from the config (deterministic for a given seed)."""
    cfg = settings.training
    return {
        "objective": "binary",
        "learning_rate": cfg.channel_learning_rate if channel else cfg.learning_rate,
        "num_leaves": cfg.channel_num_leaves if channel else cfg.num_leaves,
        "min_data_in_leaf": cfg.channel_min_child_samples if channel else cfg.min_child_samples,
        "lambda_l2": cfg.lambda_l2,
        "feature_fraction": cfg.feature_fraction,
        "cat_smooth": 10.0,
        "max_cat_to_onehot": 8,
        "seed": settings.seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": cfg.num_threads,
        "verbose": -1,
    }


@dataclass
class ReturnModel:
    """A fitted return model: booster, calibrator and the input description."""

    booster: lgb.Booster
    calibrator: Calibrator
    features: list[str]
    levels: dict[str, list[str]]

    def margin_matrix(self, x: np.ndarray, num_threads: int = 0) -> np.ndarray:
        """The booster's log-odds for a model matrix (``rank_score`` is built on them)."""
        return self.booster.predict(x, raw_score=True, num_threads=num_threads)

    def raw(self, frame: pd.DataFrame) -> np.ndarray:
        """Uncalibrated probabilities for a feature frame: the sigmoid of the log-odds, as
        scoring computes them (one prediction gives both the probability and the rank)."""
        return expit(self.margin_matrix(to_matrix(frame, self.features, self.levels)))

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated probabilities of returning within the horizon."""
        return self.calibrator.transform(self.raw(frame))


def fit_return_model(
    train: pd.DataFrame, calibration: pd.DataFrame, settings: Settings
) -> ReturnModel:
    """Fit booster on ``train``, stop early and calibrate on ``calibration``.

    Args:
        train: snapshot rows (features and ``label``) of the training as-of dates.
        calibration: snapshot rows of later as-of dates.
        settings: ``settings.training`` holds the hyperparameters.
    """
    features = model_features()
    cats = categorical_features(features)
    levels = categorical_levels(train, cats)
    cat_idx = [features.index(c) for c in cats]
    x_train = to_matrix(train, features, levels)
    x_cal = to_matrix(calibration, features, levels)
    dtrain = lgb.Dataset(x_train, train["label"].to_numpy(), feature_name=features,
                         categorical_feature=cat_idx, free_raw_data=True)
    dcal = lgb.Dataset(x_cal, calibration["label"].to_numpy(), reference=dtrain)
    booster = lgb.train(
        lgb_params(settings), dtrain, num_boost_round=settings.training.max_rounds,
        valid_sets=[dcal], valid_names=["calibration"],
        callbacks=[lgb.early_stopping(settings.training.early_stopping_rounds, verbose=False)],
    )
    booster = _trimmed(booster)
    calibrator = make_calibrator(settings.training.calibration_method)
    calibrator.fit(booster.predict(x_cal), calibration["label"].to_numpy())
    return ReturnModel(booster, calibrator, features, levels)


def _trimmed(booster: lgb.Booster) -> lgb.Booster:
    """The booster cut at its best iteration (so saved models carry no unused trees)."""
    best = booster.best_iteration or booster.current_iteration()
    return lgb.Booster(model_str=booster.model_to_string(num_iteration=best))
