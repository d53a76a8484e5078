"""Short exports: a return model early-stopped and calibrated by cross-fitting.

Why: a clinic with 6-12 months of visits has no calibration window later than its training
data (see ``training.training_snapshots.short_split``). Early stopping and the calibrator then
learn from out-of-fold predictions: the training rows are split into patient folds, each fold
is predicted by boosters that never saw its patients, and the final booster, fitted on every
row, runs the mean of the folds' best round counts. Folds are by patient, not by snapshot
date: the short grid's label windows overlap, so a time fold would be predicted by a booster
that learned the very same visits of the same patients.

Two candidates are cross-fitted - every model input, and a recency-frequency model on the
inputs BG/NBD sees (visit counts, tenure, recency) with small trees - and the one with the lower
out-of-fold log loss is kept: the fallback is chosen by that inner backtest, never by a rule
of thumb. The validation window (or, at the shortest, the held-out patients of the latest
date) is not used for the choice.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import lightgbm as lgb
import numpy as np
import pandas as pd

from features.config import Settings
from training.calibration import make_calibrator
from training.matrix import categorical_levels, to_matrix
from training.metrics import score_forecast
from training.return_model import ReturnModel, categorical_features, lgb_params, model_features
from training.training_snapshots import (
    CROSS_FITTED,
    HELD_OUT_PATIENTS,
    AsOfSplit,
    time_split_dates,
)

RECENCY_FREQUENCY: tuple[str, ...] = (
    "days_since_last_visit", "visits_6m", "visits_12m", "visits_lifetime", "tenure_days",
    "gap_median_days",
)
FULL, SIMPLE = "all model inputs", "recency-frequency fallback"


@dataclass
class ShortFit:
    """A short-history run's model and the rows and probabilities of its backtest."""

    model: ReturnModel
    validation: pd.DataFrame
    p_validation: np.ndarray
    rule_rows: pd.DataFrame
    choice: dict[str, object]
    split: AsOfSplit


def patient_folds(patient_ids: pd.Series, k: int, seed: int) -> np.ndarray:
    """Fold 0 .. k-1 of each row, the same for every row of a patient (seeded hash)."""
    ids = pd.Series(np.asarray(patient_ids, dtype=object)).astype(str)
    hashed = pd.util.hash_pandas_object(ids, index=False).to_numpy(np.uint64)
    return ((hashed + np.uint64(seed)) % np.uint64(k)).astype(int)


def _params(settings: Settings, simple: bool) -> dict[str, object]:
    params = lgb_params(settings)
    if simple:
        params |= {"num_leaves": 7, "min_data_in_leaf": 2 * settings.training.min_child_samples}
    return params


def cross_fit(
    rows: pd.DataFrame, folds: np.ndarray, features: list[str], settings: Settings,
    calibrate_on: np.ndarray, simple: bool = False,
) -> tuple[ReturnModel, np.ndarray]:
    """Booster on every row, rounds and calibrator from out-of-fold predictions.

    Args:
        rows: training rows (features and ``label``).
        folds: fold of each row (``patient_folds``).
        features: model inputs.
        settings: hyperparameters; ``training.calibration_method`` picks the calibrator.
        calibrate_on: boolean mask of the rows whose out-of-fold predictions fit the
            calibrator.
        simple: small trees (the recency-frequency fallback).

    Returns:
        (model, calibrated out-of-fold probability of every row).
    """
    cfg = settings.training
    cats = categorical_features(features)
    levels = categorical_levels(rows, cats)
    cat_idx = [features.index(c) for c in cats]
    x, y = to_matrix(rows, features, levels), rows["label"].to_numpy()
    params = _params(settings, simple)
    oof, rounds = np.empty(len(rows)), []
    for k in np.unique(folds):
        fit, held = folds != k, folds == k
        dfit = lgb.Dataset(x[fit], y[fit], feature_name=features, categorical_feature=cat_idx)
        dheld = lgb.Dataset(x[held], y[held], reference=dfit)
        booster = lgb.train(
            params, dfit, num_boost_round=cfg.max_rounds, valid_sets=[dheld],
            callbacks=[lgb.early_stopping(cfg.early_stopping_rounds, verbose=False)],
        )
        rounds.append(booster.best_iteration or booster.current_iteration())
        oof[held] = booster.predict(x[held], num_iteration=rounds[-1])
    dall = lgb.Dataset(x, y, feature_name=features, categorical_feature=cat_idx)
    final = lgb.train(params, dall, num_boost_round=max(1, round(float(np.mean(rounds)))))
    calibrator = make_calibrator(cfg.calibration_method).fit(oof[calibrate_on], y[calibrate_on])
    return ReturnModel(final, calibrator, features, levels), calibrator.transform(oof)


def _pooled(rows: pd.DataFrame, split: AsOfSplit, settings: Settings) -> tuple:
    """Both candidates on every date up to V; (model, out-of-fold p, choice)."""
    v = split.validation[0]
    before_v = (rows["as_of"] < v).to_numpy()
    calibrate_on = before_v if before_v.any() else np.ones(len(rows), bool)
    folds = patient_folds(rows["patient_id"], settings.training.cross_fit_folds, settings.seed)
    y = rows["label"].to_numpy()
    fitted, losses = {}, {}
    for name, features, simple in ((FULL, model_features(), False),
                                   (SIMPLE, list(RECENCY_FREQUENCY), True)):
        fitted[name] = cross_fit(rows, folds, features, settings, calibrate_on, simple)
        losses[name] = score_forecast(y[calibrate_on], fitted[name][1][calibrate_on])["log_loss"]
    chosen = min(losses, key=losses.__getitem__)
    choice = {"inputs": chosen, "inputs_chosen_by": "out-of-fold log loss before the "
              f"validation date ({settings.training.cross_fit_folds} patient folds)",
              "out_of_fold_log_loss": {k: float(val) for k, val in losses.items()}}
    return (*fitted[chosen], choice)


def fit_short_history(rows: pd.DataFrame, split: AsOfSplit, settings: Settings) -> ShortFit:
    """The pooled model and, when there is room, the time-split one; the backtest picks.

    Pooled: every date of ``split`` up to V, inputs chosen as in the module doc, judged by
    the held-out patients' out-of-fold probabilities at V. Time split (only when some dates'
    labels are known by V): cross-fitted on those dates alone, judged at V. Both are scored
    on the same rows (every patient at V); the lower log loss wins and the returned split
    says which was kept.

    Args:
        rows: snapshot rows of every date of ``split`` (``build_training_rows``).
        split: a ``short_split``.
        settings: the product settings.
    """
    v = split.validation[0]
    rows = rows.loc[rows["as_of"] <= v].reset_index(drop=True)
    at_v = (rows["as_of"] == v).to_numpy()
    validation, y_v = rows.loc[at_v].reset_index(drop=True), rows.loc[at_v, "label"].to_numpy()
    model, oof, choice = _pooled(rows, split, settings)
    p_val, kept = oof[at_v], replace(split, mode=HELD_OUT_PATIENTS)
    rule_rows = rows.loc[~at_v] if (~at_v).any() else rows.loc[at_v]
    early = time_split_dates(split)
    if early:
        train = rows.loc[rows["as_of"].isin(early)].reset_index(drop=True)
        folds = patient_folds(train["patient_id"], settings.training.cross_fit_folds,
                              settings.seed)
        timed, _ = cross_fit(train, folds, model_features(), settings, np.ones(len(train), bool))
        p_time = timed.predict(validation)
        loss = {"pooled": score_forecast(y_v, p_val)["log_loss"],
                "time split": score_forecast(y_v, p_time)["log_loss"]}
        choice |= {"validation_log_loss": {k: float(val) for k, val in loss.items()}}
        if loss["time split"] < loss["pooled"]:
            model, p_val, rule_rows = timed, p_time, train
            kept = replace(split, train=early, mode=CROSS_FITTED)
            choice["inputs"] = FULL
    choice["kept"] = kept.mode
    return ShortFit(model, validation, p_val, rule_rows.reset_index(drop=True), choice, kept)
