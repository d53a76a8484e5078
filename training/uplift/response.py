"""The pull-forward learner's channel tilt: P(the patient reacts | contacted on c now, x).

Why a reaction and not a booking: a message adds a booking through a reaction (a reply, a
click, an answered call) - someone who ignores it is barely moved - so how readily this
patient reacts on c is what tells two patients with the same pull apart. And reactions are
the far denser label: on the second bench clinic 3.2 % of past contacts got one against
0.5 % credited with a booking, so the channel model's P(booking | contacted on c) (the
default tilt) learns mostly the patient's own booking chance, which the pull already holds.
Used when ``training.uplift_tilt = "response"``: measured below the log-linear reaction
model (``training.uplift.reaction``, the default) on both bench clinics - the booster
early-stops at few trees on the thin label and ranks patients within a channel little better
than chance.
Fitted on the channel model's contact rows (features as of before each contact, channel
randomised by the campaigns) with their ``responded`` label, in the channel-aware layout of
``training.uplift.design``; measured in ``docs/training.md``.
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd

from features.vocabulary import CHANNELS
from training.channel_model import channel_features
from training.uplift.design import (
    categorical_columns,
    channel_matrix,
    fit_booster,
    lgb_uplift_params,
    per_channel,
)

MAX_ROUNDS = 60  # scoring speed: four passes of one small booster per patient


def fit_response(x: np.ndarray, features: list[str], levels: dict[str, list[str]],
                 contacts: pd.DataFrame, seed: int, threads: int) -> lgb.Booster:
    """One booster of ``responded`` on past contacts (rows in time order).

    Args:
        x: the return-model matrix of ``contacts`` (``training.uplift.model.model_matrix``).
        features, levels: the return model's input names and categorical levels.
        contacts: ``training.contact_rows.build_contact_rows`` (``channel``, ``responded``).
    """
    code = contacts["channel"].map({c: i for i, c in enumerate(CHANNELS)}).to_numpy()
    names = channel_features(features)
    xc = channel_matrix(x, features, code)
    params = lgb_uplift_params(seed, threads, leaves=15, min_leaf=100, rate=0.1)
    return fit_booster(params, xc, contacts["responded"].to_numpy(float), names,
                       categorical_columns(names, levels), MAX_ROUNDS)


def predict_response(booster: lgb.Booster, x: np.ndarray, features: list[str],
                     num_threads: int = 0) -> np.ndarray:
    """``(n, channels)``: P(reaction | contacted on c) for a return-model matrix."""
    out = np.empty((len(x), len(CHANNELS)))
    for code, xc in per_channel(x, features):
        out[:, code] = booster.predict(xc, num_threads=num_threads)
    return out
