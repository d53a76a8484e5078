"""Uplift learners in the scikit-learn shape: ``fit(X, treatment, y)``, ``predict(X)``.

``X`` is the return model's input matrix, ``treatment`` a code per row (``CONTROL`` = not
contacted, else the channel's index in ``CHANNELS``), ``y`` 0/1 "booked within the
attribution window". ``predict`` returns an ``(n, channels)`` array of effects:
P(booking | contacted on c now, x) - P(booking | not contacted, x). Parameters are stored by
``__init__``, learned state ends in ``_``, and each learner turns into plain JSON (boosters as
LightGBM model text) so a bundle never pickles.

* :class:`TLearner` - one model per arm on the randomised members (the channel a feature of
  the treated model). The textbook baseline.
* :class:`DRLearner` - doubly robust pseudo-outcomes (known randomisation share, 2-fold
  cross-fitting) regressed on ``X``; one effect for every channel.
* :class:`StructuredUplift` - uses what is known about how a message works (see its
  docstring). Measured worst of the three on the demo (``docs/training.md``); the default
  (``training.uplift_learner``) is the T-learner.
"""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np

from features.vocabulary import CHANNELS
from training.channel_model import channel_features
from training.uplift.design import (
    CONTROL,
    categorical_columns,
    channel_matrix,
    fit_booster,
    lgb_uplift_params,
    per_channel,
)

_EPS = 1e-6


def _booster_text(b: lgb.Booster) -> str:
    return b.model_to_string()


def _booster(text: str) -> lgb.Booster:
    return lgb.Booster(model_str=text)


class _Learner:
    """Common parameters: input names, categorical levels, seed, threads, rounds."""

    kind = ""

    def __init__(self, features: list[str], levels: dict[str, list[str]], seed: int = 42,
                 threads: int = 1, rounds: int = 200) -> None:
        self.features = list(features)
        self.levels = dict(levels)
        self.seed = seed
        self.threads = threads
        self.rounds = rounds

    def _params(self, **kw: Any) -> dict[str, object]:
        return lgb_uplift_params(self.seed, self.threads, **kw)

    def _fit_base(self, x: np.ndarray, y: np.ndarray, **kw: Any) -> lgb.Booster:
        cats = categorical_columns(self.features, self.levels)
        return fit_booster(self._params(**kw), x, y, self.features, cats, self.rounds)

    def _fit_channel(self, x: np.ndarray, code: np.ndarray, y: np.ndarray) -> lgb.Booster:
        names = channel_features(self.features)
        xc = channel_matrix(x, self.features, code)
        return fit_booster(self._params(), xc, y, names, categorical_columns(names, self.levels),
                           self.rounds)

    def _state(self) -> dict[str, Any]:
        return {"kind": self.kind, "features": self.features, "levels": self.levels,
                "seed": self.seed, "threads": self.threads, "rounds": self.rounds}


class TLearner(_Learner):
    """mu1(x, c) on contacted rows minus mu0(x) on control rows."""

    kind = "t_learner"

    def fit(self, X: np.ndarray, treatment: np.ndarray, y: np.ndarray) -> TLearner:  # noqa: N803
        """Fit both arms; rows in time order."""
        t = np.asarray(treatment)
        self.mu0_ = self._fit_base(X[t == CONTROL], y[t == CONTROL])
        self.mu1_ = self._fit_channel(X[t != CONTROL], t[t != CONTROL], y[t != CONTROL])
        return self

    def predict(self, X: np.ndarray, num_threads: int = 0) -> np.ndarray:  # noqa: N803
        """Effect per channel, ``(n, channels)``."""
        p0 = self.mu0_.predict(X, num_threads=num_threads)
        out = np.empty((len(X), len(CHANNELS)))
        for code, xc in per_channel(X, self.features):
            out[:, code] = self.mu1_.predict(xc, num_threads=num_threads) - p0
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state."""
        return self._state() | {"mu0": _booster_text(self.mu0_), "mu1": _booster_text(self.mu1_)}


class DRLearner(_Learner):
    """Doubly robust learner: regress the AIPW pseudo-outcome on ``X``.

    The treatment share is known (the holdout is randomised), so the propensity is the
    observed share, not a model; nuisance models are cross-fitted on two folds.
    """

    kind = "dr_learner"

    def fit(self, X: np.ndarray, treatment: np.ndarray, y: np.ndarray) -> DRLearner:  # noqa: N803
        """Cross-fit mu0, mu1 (any channel), then fit the effect model on the pseudo-outcome."""
        t = (np.asarray(treatment) != CONTROL).astype(float)
        e = float(np.clip(t.mean(), 0.05, 0.95))
        fold = np.arange(len(y)) % 2
        psi = np.empty(len(y))
        for f in (0, 1):
            fit_rows, out_rows = fold != f, fold == f
            m0 = self._fit_base(X[fit_rows & (t == 0)], y[fit_rows & (t == 0)])
            m1 = self._fit_base(X[fit_rows & (t == 1)], y[fit_rows & (t == 1)])
            mu0, mu1 = m0.predict(X[out_rows]), m1.predict(X[out_rows])
            tt, yy = t[out_rows], y[out_rows]
            psi[out_rows] = mu1 - mu0 + tt * (yy - mu1) / e - (1 - tt) * (yy - mu0) / (1 - e)
        params = {**self._params(), "objective": "regression", "metric": "l2"}
        cats = categorical_columns(self.features, self.levels)
        self.effect_ = fit_booster(params, X, psi, self.features, cats, self.rounds)
        self.treated_share_ = e
        return self

    def predict(self, X: np.ndarray, num_threads: int = 0) -> np.ndarray:  # noqa: N803
        """The same effect for every channel, ``(n, channels)``."""
        tau = self.effect_.predict(X, num_threads=num_threads)
        return np.repeat(tau[:, None], len(CHANNELS), axis=1)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state."""
        return self._state() | {"effect": _booster_text(self.effect_),
                                "treated_share": self.treated_share_}


class StructuredUplift(_Learner):
    """Uplift = (1 - p0(x)) x q_c(x), the effect scale calibrated on the randomised arms.

    Why this shape: a message does not move patients who would book anyway; it adds a chance
    ``q_c(x)`` that someone who would *not* have booked does (they answer, are reminded, are
    won back). So P(book | contacted on c) = 1 - (1 - p0)(1 - q_c), and the effect is
    (1 - p0) q_c. Each part is learned where the data is plentiful:

    * ``p0`` - P(booking within the window | no contact), from every patient-date without a
      contact near it (the return model's snapshot rows; selection into campaigns is on
      observed features such as the days since the last visit, which ``x`` holds), trained
      on the oldest 80 %, early-stopped and isotonic-calibrated on the latest 20 %;
    * ``q_c`` - fitted on every past contact (randomised channel) through that very link
      (a custom LightGBM objective with ``p0`` of each contact fixed), so bookings that
      would have happened anyway are not credited to the message;
    * ``scale_`` - observed uplift of the randomised members (treated minus holdout) over
      the predicted one, shrunk toward 1 by its standard error (thin holdouts move it little).
    """

    kind = "structured"

    def fit(self, X: np.ndarray, treatment: np.ndarray, y: np.ndarray) -> StructuredUplift:  # noqa: N803
        """``CONTROL`` rows fit p0; contacted rows fit q_c. Rows in time order."""
        t = np.asarray(treatment)
        ctrl = t == CONTROL
        self._fit_p0(X[ctrl], y[ctrl])
        self._fit_q(X[~ctrl], t[~ctrl], y[~ctrl])
        self.scale_, self.scale_se_ = 1.0, float("nan")
        return self

    def _fit_p0(self, x: np.ndarray, y: np.ndarray) -> None:
        from training.calibration import IsotonicCalibrator

        cut = int(len(y) * 0.8)
        cats = categorical_columns(self.features, self.levels)
        dtr = lgb.Dataset(x[:cut], y[:cut], feature_name=self.features, categorical_feature=cats)
        dva = lgb.Dataset(x[cut:], y[cut:], reference=dtr)
        booster = lgb.train(self._params(leaves=31, min_leaf=50, rate=0.1), dtr,
                            num_boost_round=self.rounds, valid_sets=[dva],
                            callbacks=[lgb.early_stopping(20, verbose=False)])
        best = booster.best_iteration or booster.current_iteration()
        self.p0_ = lgb.Booster(model_str=booster.model_to_string(num_iteration=best))
        self.p0_cal_ = IsotonicCalibrator().fit(self.p0_.predict(x[cut:]), y[cut:])

    def p0(self, X: np.ndarray, num_threads: int = 0) -> np.ndarray:  # noqa: N803
        """Calibrated P(booking within the window | not contacted)."""
        return self.p0_cal_.transform(self.p0_.predict(X, num_threads=num_threads))

    def _fit_q(self, x: np.ndarray, code: np.ndarray, y: np.ndarray) -> None:
        p0 = np.clip(self.p0(x), 0.0, 1 - 1e-3)
        names = channel_features(self.features)
        xc = channel_matrix(x, self.features, code)
        cats = categorical_columns(names, self.levels)
        prior = float(np.clip((y.mean() - p0.mean()) / (1 - p0.mean()), 0.005, 0.5))
        init = np.full(len(y), np.log(prior / (1 - prior)))
        cut = int(len(y) * 0.8)
        base = {**self._params(), "objective": _structured_objective, "metric": "None"}
        dtr = lgb.Dataset(xc[:cut], y[:cut], feature_name=names, categorical_feature=cats,
                          init_score=init[:cut])
        dtr.p0 = p0[:cut]  # type: ignore[attr-defined]
        dva = lgb.Dataset(xc[cut:], y[cut:], reference=dtr, init_score=init[cut:])
        dva.p0 = p0[cut:]  # type: ignore[attr-defined]
        booster = lgb.train(base, dtr, num_boost_round=self.rounds, valid_sets=[dva],
                            feval=_structured_loss,
                            callbacks=[lgb.early_stopping(20, verbose=False)])
        best = booster.best_iteration or booster.current_iteration()
        self.q_ = lgb.Booster(model_str=booster.model_to_string(num_iteration=best))
        self.q_init_ = float(init[0])

    def q(self, X: np.ndarray, num_threads: int = 0) -> np.ndarray:  # noqa: N803
        """``(n, channels)``: the chance a contact on c brings a booking that would not happen."""
        out = np.empty((len(X), len(CHANNELS)))
        for code, xc in per_channel(X, self.features):
            raw = self.q_.predict(xc, raw_score=True, num_threads=num_threads) + self.q_init_
            out[:, code] = 1.0 / (1.0 + np.exp(-raw))
        return out

    def calibrate(self, X: np.ndarray, treatment: np.ndarray, y: np.ndarray,  # noqa: N803
                  prior_sd: float = 0.5) -> StructuredUplift:
        """Scale the effect so randomised members' observed uplift matches the predicted one.

        Treated rows are predicted on the channel they got; holdout rows on the average over
        channels. Rows whose channel is unknown (treated, never contacted) count as treated
        with the channel average (an intention-to-treat comparison).
        """
        t = np.asarray(treatment)
        treated = t != CONTROL
        if treated.sum() < 30 or (~treated).sum() < 30:
            return self
        tau = self.predict_unscaled(X)
        pred = np.where(t >= 0, tau[np.arange(len(t)), np.maximum(t, 0)], tau.mean(axis=1))
        observed = y[treated].mean() - y[~treated].mean()
        se = np.sqrt(y[treated].var() / treated.sum() + y[~treated].var() / (~treated).sum())
        predicted = pred[treated].mean()
        if predicted <= _EPS:
            return self
        k, k_se = observed / predicted, max(se / predicted, _EPS)
        w = (1 / k_se**2) / (1 / k_se**2 + 1 / prior_sd**2)
        self.scale_ = float(np.clip(w * k + (1 - w), 0.1, 5.0))
        self.scale_se_ = float(k_se)
        self.observed_uplift_, self.predicted_uplift_ = float(observed), float(predicted)
        return self

    def predict_unscaled(self, X: np.ndarray, num_threads: int = 0) -> np.ndarray:  # noqa: N803
        """(1 - p0) q_c before the randomised-arm scale."""
        return (1.0 - self.p0(X, num_threads))[:, None] * self.q(X, num_threads)

    def predict(self, X: np.ndarray, num_threads: int = 0) -> np.ndarray:  # noqa: N803
        """Effect per channel, ``(n, channels)``."""
        return self.scale_ * self.predict_unscaled(X, num_threads)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state."""
        return self._state() | {
            "p0": _booster_text(self.p0_), "p0_calibrator": self.p0_cal_.to_dict(),
            "q": _booster_text(self.q_), "q_init": self.q_init_, "scale": self.scale_,
            "scale_se": self.scale_se_,
        }


def _structured_objective(preds: np.ndarray, data: lgb.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and (Fisher) hessian of the log loss of P = 1 - (1 - p0)(1 - sigmoid(f))."""
    y, p0 = data.get_label(), data.p0  # type: ignore[attr-defined]
    q = 1.0 / (1.0 + np.exp(-preds))  # preds include the init score
    p = np.clip(1.0 - (1.0 - p0) * (1.0 - q), _EPS, 1.0)
    dp = (1.0 - p0) * q * (1.0 - q)  # dP/df
    grad = -(y / p - (1 - y) / np.clip(1 - p, _EPS, 1)) * dp
    hess = np.maximum(dp**2 / (p * np.clip(1 - p, _EPS, 1)), 1e-9)
    return grad, hess


def _structured_loss(preds: np.ndarray, data: lgb.Dataset) -> tuple[str, float, bool]:
    y, p0 = data.get_label(), data.p0  # type: ignore[attr-defined]
    q = 1.0 / (1.0 + np.exp(-preds))  # preds include the init score
    p = np.clip(1.0 - (1.0 - p0) * (1.0 - q), _EPS, 1 - _EPS)
    return "structured_logloss", float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))), False


LEARNERS = {c.kind: c for c in (TLearner, DRLearner, StructuredUplift)}


def learner_from_dict(state: dict[str, Any]) -> TLearner | DRLearner | StructuredUplift:
    """Rebuild a fitted learner from its ``to_dict`` output."""
    from training.calibration import calibrator_from_dict

    cls = LEARNERS[state["kind"]]
    obj = cls(state["features"], state["levels"], state["seed"], state["threads"],
              state["rounds"])
    if isinstance(obj, TLearner):
        obj.mu0_, obj.mu1_ = _booster(state["mu0"]), _booster(state["mu1"])
    elif isinstance(obj, DRLearner):
        obj.effect_, obj.treated_share_ = _booster(state["effect"]), state["treated_share"]
    else:
        obj.p0_, obj.q_ = _booster(state["p0"]), _booster(state["q"])
        obj.p0_cal_ = calibrator_from_dict(state["p0_calibrator"])
        obj.q_init_, obj.scale_ = state["q_init"], state["scale"]
        obj.scale_se_ = state["scale_se"]
    return obj
