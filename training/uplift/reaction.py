"""The pull-forward learner's reaction tilt: a log-linear model of P(reaction | contacted on c).

Why a small log-linear model and not a booster: a message adds a booking through a reaction,
so how readily *this* patient reacts on c is what tells two patients with the same pull
apart (measured on both bench clinics: the simulator's true reaction chance in its place
would bring ~95 % of the oracle's top-1,000 extra bookings, against ~60 % today). But the
label is thin - 3-4 % of past contacts get a reaction - and a booster on it early-stops at
9-41 trees and ranks patients within a channel barely better than chance (log correlation
with the true reaction chance 0.06-0.31). The reaction chance of a real patient is, to a
first approximation, a product: the channel's base rate, an age gradient of its own per
channel (older patients pick up the phone, younger ones answer texts), and the patient's
own responsiveness, which shows in two places a clinic records - how reliably they keep
appointments (no-shows and late cancellations) and how they answered before, relative to
what an average patient would have answered to the same contacts. A logistic model with
exactly those terms has 12 coefficients, fits on the thin label without early stopping,
and scores as one dot product per channel (no extra trees on the scoring path).

Design of row i contacted on channel c (``design``):

- one indicator per channel (its base rate) and indicator x (age - 50) / 15 (its gradient);
- ``noshow_rate`` and ``cancel_rate`` (missing: the training mean);
- ``log((R + 1) / (E + 1))``: R the patient's reactions on every channel, E the reactions
  an average patient would have given to the same contacts (their ``<c>_sent`` x the
  channel's reaction rate in the training contacts);
- the same ratio on channel c alone.

A column whose feature the return model lacks is 0 (its coefficient then is 0). Fitted on
the channel model's contact rows (features as of before each contact; channels randomised by
the campaigns) with their ``responded`` label; measured in ``docs/training.md``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from features.vocabulary import CHANNELS

AGE, NO_SHOW, CANCEL = "age_years", "noshow_rate", "cancel_rate"
N_CHANNELS = len(CHANNELS)
N_TERMS = 2 * N_CHANNELS + 4  # base and age slope per channel; no-show, cancel, two ratios
PRIOR = 1.0  # pseudo-count of each ratio: a patient never contacted sits at log 1 = 0


class ReactionModel:
    """``P(reaction | contacted on c, x)`` for every channel, from the terms above.

    Attributes (after :meth:`fit`):
        coef_: ``N_TERMS`` logistic coefficients in :func:`design` order.
        rates_: the training contacts' reaction rate per channel (E's weights).
        fill_: training means of no-show and cancellation rate (their missing values).
    """

    def __init__(self, features: list[str], strength: float = 1.0) -> None:
        self.features = list(features)
        self.strength = strength

    def fit(self, x: np.ndarray, channel: np.ndarray, responded: np.ndarray) -> ReactionModel:
        """Fit on contact rows: ``x`` their return-model matrix, ``channel`` codes into
        ``CHANNELS``, ``responded`` 0/1."""
        channel = np.asarray(channel, dtype=int)
        y = np.asarray(responded, dtype=float)
        self.rates_ = np.array([y[channel == c].mean() if (channel == c).any() else y.mean()
                                for c in range(N_CHANNELS)])
        self.fill_ = np.array([_mean(self._column(x, NO_SHOW)), _mean(self._column(x, CANCEL))])
        shared, own = self._parts(x)
        d = design(shared, own[np.arange(len(x)), channel], channel, self._age(x))
        if len(np.unique(y)) < 2:  # nothing to learn from: each channel's rate
            self.coef_ = np.zeros(N_TERMS)
            self.coef_[:N_CHANNELS] = _logit(np.clip(self.rates_, 1e-6, 1 - 1e-6))
            return self
        fit = LogisticRegression(C=self.strength, fit_intercept=False, max_iter=2000)
        self.coef_ = fit.fit(d, y).coef_[0]
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        """``(n, channels)`` reaction chances of a return-model matrix (float32: the
        scoring path computes it for every patient)."""
        shared, own = self._parts(x)
        b = self.coef_.astype(np.float32)
        z = own * b[-1]
        z += shared @ b[2 * N_CHANNELS:2 * N_CHANNELS + 3][:, None]
        z += self._age(x)[:, None] * b[N_CHANNELS:2 * N_CHANNELS][None, :]
        z += b[:N_CHANNELS][None, :]
        np.negative(z, out=z)
        np.exp(z, out=z)
        z += 1.0
        return np.reciprocal(z, out=z)

    def _column(self, x: np.ndarray, name: str) -> np.ndarray:
        if name not in self.features:
            return np.zeros(len(x), dtype=np.float32)
        return np.asarray(x[:, self.features.index(name)], dtype=np.float32)

    def _age(self, x: np.ndarray) -> np.ndarray:
        if AGE not in self.features:
            return np.zeros(len(x), dtype=np.float32)
        return np.nan_to_num((self._column(x, AGE) - 50.0) / 15.0, nan=0.0)

    def _parts(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(n, 3)`` channel-free terms and ``(n, channels)`` own-channel ratio (float32)."""
        n = len(x)
        rates = self.rates_.astype(np.float32)
        got = np.empty((n, N_CHANNELS), dtype=np.float32)
        expected = np.empty((n, N_CHANNELS), dtype=np.float32)
        for c, ch in enumerate(CHANNELS):
            got[:, c] = np.nan_to_num(self._column(x, f"{ch}_responses"))
            expected[:, c] = np.nan_to_num(self._column(x, f"{ch}_sent")) * rates[c]
        shared = np.empty((n, 3), dtype=np.float32)
        for j, (name, fill) in enumerate(((NO_SHOW, self.fill_[0]), (CANCEL, self.fill_[1]))):
            v = self._column(x, name)
            shared[:, j] = np.where(np.isnan(v), np.float32(fill), v)
        shared[:, 2] = np.log((got.sum(1) + PRIOR) / (expected.sum(1) + PRIOR))
        got += PRIOR
        expected += PRIOR
        got /= expected
        return shared, np.log(got, out=got)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state."""
        return {"features": self.features, "strength": self.strength,
                "coef": [float(v) for v in self.coef_], "rates": [float(v) for v in self.rates_],
                "fill": [float(v) for v in self.fill_]}

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> ReactionModel:
        """Rebuild from :meth:`to_dict`."""
        obj = cls(state["features"], state["strength"])
        obj.coef_ = np.asarray(state["coef"], dtype=float)
        obj.rates_ = np.asarray(state["rates"], dtype=float)
        obj.fill_ = np.asarray(state["fill"], dtype=float)
        return obj


def design(shared: np.ndarray, own: np.ndarray, channel: np.ndarray, age: np.ndarray
           ) -> np.ndarray:
    """The ``(n, N_TERMS)`` design of rows contacted on ``channel`` (see the module doc)."""
    n = len(channel)
    onehot = np.zeros((n, N_CHANNELS))
    onehot[np.arange(n), channel] = 1.0
    return np.column_stack([onehot, onehot * age[:, None], shared, own])


def fit_reaction(x: np.ndarray, features: list[str], contacts: pd.DataFrame) -> ReactionModel:
    """The reaction model of the channel model's contact rows (``channel``, ``responded``)."""
    code = contacts["channel"].map({c: i for i, c in enumerate(CHANNELS)}).to_numpy()
    return ReactionModel(features).fit(x, code, contacts["responded"].to_numpy(float))


def _mean(v: np.ndarray) -> float:
    return float(np.nanmean(v)) if np.isfinite(v).any() else 0.0


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p / (1.0 - p))
