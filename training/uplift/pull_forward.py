"""The pull-forward uplift learner: a message brings forward a booking an engaged patient
would have made later.

Why this shape (and why the generic learners lose): a contact raises the booking hazard of
an *engaged* patient for a while and barely moves a disengaged one. The extra bookings in
the attribution window W therefore come from patients who would book eventually but not
soon; a patient who books within W anyway gains nothing, one who will never book gains
little. So

    uplift_c(x) = k_c x g(x),   g(x) = max(P(book within L | x) - P(book within W | x), 0)

("engaged, but not booking soon"), with a patient who already holds a booked appointment at
g = 0 (nothing to pull forward). A booking within W is a booking within L, so the difference
is exactly P(first booking on days W+1 .. L | x): one LightGBM model of that label on the
return model's training rows estimates it (non-negative by construction, and half the
scoring cost of two models) - plentiful, every patient, every month - labelled by the one booking rule
(``features.vocabulary.booking_moment`` through ``training.uplift.rows.booked_between``).
A patient's own readiness to answer on c tilts it: ``uplift_c = k_c x g(x) x r_c(x) / mean
r``, with ``r_c`` (``training.uplift_tilt``) the log-linear P(reaction | contacted on c) of
``training.uplift.reaction`` (default), the channel model's P(booking | contacted on c)
(passed in as ``response``) or the response booster of ``training.uplift.response``. The
denominator is one mean over every channel, so a channel patients rarely answer keeps its
low level (per-channel means made every channel's tilt average 1 and left the channels'
levels to the thin holdouts: measured 55 % against 64 % of the oracle's top 1,000 on the
second bench clinic). Only the scale
``k_c`` - the share of that pull a contact on c realises - comes from the randomised arms,
where the data is thin: treated minus holdout booking rate over the mean tilted g, the
channels' ratios shrunk toward the pooled k by their standard errors. So the thin holdouts
set one number per channel, not the ranking (measured: ``docs/training.md``).
"""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from features.vocabulary import CHANNELS
from training.uplift.design import CONTROL, categorical_columns, fit_booster, lgb_uplift_params
from training.uplift.reaction import ReactionModel, fit_reaction
from training.uplift.response import fit_response, predict_response

BOOKED_FEATURE = "has_booked_appointment"


class PullForwardUplift:
    """``k_c x P(book within L, not within W) x channel tilt``; see the module docstring.

    Args:
        features: return-model input names (the matrix layout).
        levels: categorical levels of those inputs.
        seed, threads, rounds: LightGBM seed, threads and the upper bound on rounds.
        window_days: W, the attribution window.
        long_days: L, the "would book eventually" horizon (at least the return horizon).
    """

    kind = "pull_forward"

    def __init__(self, features: list[str], levels: dict[str, list[str]], seed: int = 42,
                 threads: int = 1, rounds: int = 200, window_days: int = 14,
                 long_days: int = 90) -> None:
        self.features = list(features)
        self.levels = dict(levels)
        self.seed = seed
        self.threads = threads
        self.rounds = rounds
        self.window_days = window_days
        self.long_days = long_days

    def fit(self, X: np.ndarray, y_window: np.ndarray, y_long: np.ndarray  # noqa: N803
            ) -> PullForwardUplift:
        """Fit g on snapshot rows in time order: label "booked within L, not within W"."""
        cats = categorical_columns(self.features, self.levels)
        params = lgb_uplift_params(self.seed, self.threads, leaves=15, min_leaf=100, rate=0.15)
        label = ((np.asarray(y_long) > 0) & ~(np.asarray(y_window) > 0)).astype(float)
        rounds = min(self.rounds, 60)  # scoring speed: one small booster
        self.pull_ = fit_booster(params, X, label, self.features, cats, rounds)
        self.k_ = np.ones(len(CHANNELS))
        self.response_mean_ = None
        self.k_pooled_, self.k_se_ = 1.0, np.full(len(CHANNELS), np.nan)
        self.response_ = None
        self.reaction_ = None
        return self

    def fit_response(self, x: np.ndarray, contacts: pd.DataFrame) -> PullForwardUplift:
        """Fit the tilt's response booster on past contacts (``x``: their return-model
        matrix); from then on the tilt ignores any ``response`` passed in."""
        self.response_ = fit_response(x, self.features, self.levels, contacts, self.seed,
                                      self.threads)
        return self

    def fit_reaction(self, x: np.ndarray, contacts: pd.DataFrame) -> PullForwardUplift:
        """Fit the tilt's log-linear reaction model on past contacts
        (``training.uplift.reaction``); from then on the tilt ignores any ``response``."""
        self.reaction_ = fit_reaction(x, self.features, contacts)
        return self

    def _own_response(self, X: np.ndarray, response: np.ndarray | None,  # noqa: N803
                      num_threads: int = 0) -> np.ndarray | None:
        if getattr(self, "reaction_", None) is not None:
            return self.reaction_.predict(X)
        if getattr(self, "response_", None) is None:
            return response
        return predict_response(self.response_, X, self.features, num_threads)

    def pull(self, X: np.ndarray, num_threads: int = 0) -> np.ndarray:  # noqa: N803
        """g(x) = P(first booking on days W+1 .. L); 0 for a patient holding a booking."""
        g = self.pull_.predict(X, num_threads=num_threads)
        if BOOKED_FEATURE in self.features:
            booked = X[:, self.features.index(BOOKED_FEATURE)]
            g = np.where(booked > 0.5, 0.0, g)
        return g

    def contributions(self, X: np.ndarray, num_threads: int = 0) -> np.ndarray:  # noqa: N803
        """TreeSHAP contributions of each input to the log-odds of g, ``(n, features)``.

        Why g explains the uplift: ``uplift_c = k_c x g x tilt_c`` with ``k_c`` one number
        per channel, so the patient's part of the effect common to every channel is g, and
        a log-odds contribution to g is (for the small g of a two-week window) the relative
        change it makes to the uplift. The channel tilt only picks between channels. For a
        patient holding a booking g is 0 whatever the trees say: such a patient is never
        listed (the contact policy), so their contributions are the trees' as is.
        """
        contrib = self.pull_.predict(X, pred_contrib=True, num_threads=num_threads)
        return np.asarray(contrib)[:, : len(self.features)]

    def calibrate(self, X: np.ndarray, treatment: np.ndarray, y: np.ndarray,  # noqa: N803
                  response: np.ndarray | None = None) -> PullForwardUplift:
        """k_c from the randomised members: treated minus holdout booking rate over mean g.

        Randomisation makes the holdout's rate the untreated rate of the whole treated arm,
        so the level is the intention-to-treat one, ``k = (mean y | treated - mean y |
        holdout) / mean g | treated`` (treated members never reached, code -2, included:
        leaving them out would drop the treated who booked before the message); ``g`` is
        tilted by the reaction model (or ``response``: channel-model probabilities of the
        members), over one mean of every channel's (the tilt's fixed denominator), on the
        member's first channel. Channels
        change it by their relative effect (the same ratio per first channel, over the
        count-weighted mean of those ratios), shrunk toward 1 with weight
        tau^2 / (tau^2 + se_c^2), tau^2 the spread of the channel ratios beyond their noise;
        a channel with fewer than 30 members keeps the pooled k.
        """
        t = np.asarray(treatment)
        y = np.asarray(y, dtype=float)
        hold = t == CONTROL
        if hold.sum() < 30 or (~hold).sum() < 30:
            return self
        g = self.pull(X)
        response = self._own_response(X, response)
        if response is not None:
            self.response_mean_ = np.full(len(CHANNELS), np.nanmean(response))
            tilt = self._tilt(response)
            g = np.where(t >= 0, g * tilt[np.arange(len(t)), np.maximum(t, 0)],
                         g * np.nanmean(tilt, axis=1))
        y0, v0 = y[hold].mean(), y[hold].var() / hold.sum()

        def scale(rows: np.ndarray) -> tuple[float, float]:
            gm = max(float(g[rows].mean()), 1e-6)
            return (y[rows].mean() - y0) / gm, np.sqrt(y[rows].var() / rows.sum() + v0) / gm

        pooled, pooled_se = scale(~hold)
        raw, se = np.ones(len(CHANNELS)), np.full(len(CHANNELS), np.inf)
        count = np.array([(t == c).sum() for c in range(len(CHANNELS))], dtype=float)
        for c in np.flatnonzero(count >= 30):
            raw[c], se[c] = scale(t == c)
        known = np.isfinite(se)
        mean = float(np.sum(raw[known] * count[known]) / count[known].sum()) if known.any() \
            else 0.0
        rel, rel_se = np.ones(len(CHANNELS)), np.full(len(CHANNELS), np.inf)
        if mean > 1e-9:
            rel[known], rel_se[known] = raw[known] / mean, se[known] / mean
        tau2 = max(float(np.var(rel[known]) - np.mean(rel_se[known] ** 2)), 0.0) \
            if known.sum() > 1 else 0.0
        w = np.where(known, tau2 / (tau2 + np.where(known, rel_se, 1.0) ** 2 + 1e-12), 0.0)
        self.k_pooled_, self.pooled_se_ = max(float(pooled), 0.0), float(pooled_se)
        self.k_ = self.k_pooled_ * np.maximum(w * rel + (1 - w), 0.0)
        self.k_se_ = se
        return self

    def _tilt(self, response: np.ndarray) -> np.ndarray:
        tilt = np.asarray(response, dtype=float) / np.maximum(self.response_mean_, 1e-9)
        return np.where(np.isnan(tilt), 1.0, tilt)

    def predict(self, X: np.ndarray, num_threads: int = 0,  # noqa: N803
                response: np.ndarray | None = None) -> np.ndarray:
        """Effect per channel, ``(n, channels)``: both boosters predicted once.

        Args:
            X: the return model's input matrix.
            num_threads: LightGBM threads.
            response: the channel model's ``(n, channels)`` probabilities of the same rows
                (without them, or if calibrated without them, no tilt).
        """
        out = self.pull(X, num_threads)[:, None] * self.k_[None, :]
        response = self._own_response(X, response, num_threads)
        if response is not None and self.response_mean_ is not None:
            out *= self._tilt(response)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state (boosters as LightGBM model text)."""
        return {"kind": self.kind, "features": self.features, "levels": self.levels,
                "seed": self.seed, "threads": self.threads, "rounds": self.rounds,
                "window_days": self.window_days, "long_days": self.long_days,
                "pull": self.pull_.model_to_string(),
                "k": self.k_.tolist(), "k_pooled": self.k_pooled_,
                "response_mean": None if self.response_mean_ is None
                else [float(v) for v in self.response_mean_],
                "k_se": [None if not np.isfinite(s) else float(s) for s in self.k_se_],
                "response": None if getattr(self, "response_", None) is None
                else self.response_.model_to_string(),
                "reaction": None if getattr(self, "reaction_", None) is None
                else self.reaction_.to_dict()}

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> PullForwardUplift:
        """Rebuild from :meth:`to_dict`."""
        obj = cls(state["features"], state["levels"], state["seed"], state["threads"],
                  state["rounds"], state["window_days"], state["long_days"])
        obj.pull_ = lgb.Booster(model_str=state["pull"])
        obj.k_ = np.asarray(state["k"], dtype=float)
        obj.k_pooled_ = float(state["k_pooled"])
        mean = state.get("response_mean")
        obj.response_mean_ = None if mean is None else np.asarray(mean, dtype=float)
        obj.k_se_ = np.array([np.inf if s is None else s for s in state["k_se"]], dtype=float)
        text = state.get("response")
        obj.response_ = None if text is None else lgb.Booster(model_str=text)
        reaction = state.get("reaction")
        obj.reaction_ = None if reaction is None else ReactionModel.from_dict(reaction)
        return obj
