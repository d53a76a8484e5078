"""The channel model: P(booking within the attribution window | contacted on channel c).

Why in two parts: a booking is credited to the *latest* contact before it, so when a
campaign sends several attempts the booking label blurs which channel worked, while the
patient's reaction to each contact (``responded``) is observed per contact. The model is

    P(book | c, x) = P(respond | c, x) * P(book | responded, c)
                     + (1 - P(respond | c, x)) * P(book | no response, c)

with one LightGBM response model (channel as a feature, starting from a per-channel
logistic curve in age, ``training.channel_prior``) and booking rates after a
reaction per channel (after no reaction: one pooled rate) from the same contacts. Exports
without recorded reactions fall back to a LightGBM model of the booking label itself.

Why constrained: the channel may interact only with age, sex and the patient's history on
that channel (``channel_<suffix>``); every other feature shifts all channels alike. That is
the prior that the best channel depends on who the patient is and how they answer that
channel, and it keeps noise out of the per-patient channel ranking. Monotone constraints
make more answers never lower the probability (a behaviour test checks it).
"""

from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd

from features.config import Settings
from features.vocabulary import CHANNELS
from training.channel_prior import ChannelPrior
from training.contact_rows import SUFFIXES
from training.matrix import to_matrix
from training.return_model import lgb_params

MONOTONE: dict[str, int] = {
    "responses": 1, "bookings": 1, "response_rate": 1,
    "days_since_last_response": -1, "attempts_since_response": -1,
}
CHANNEL_INTERACTS_WITH: tuple[str, ...] = ("age_years", "sex")
MIN_POSITIVES, MIN_ROWS, RATE_PRIOR = 20, 200, 20.0


def channel_features(base: list[str]) -> list[str]:
    """Channel-model inputs: the return-model inputs, the channel, its own-channel view."""
    return [*base, "channel", *(f"channel_{s}" for s in SUFFIXES)]


def _monotone(features: list[str]) -> list[int]:
    out = []
    for name in features:
        suffix = next((s for s in MONOTONE if name.endswith("_" + s)), None)
        out.append(MONOTONE[suffix] if suffix else 0)
    return out


def _interactions(features: list[str]) -> list[list[int]]:
    with_channel = {"channel", *CHANNEL_INTERACTS_WITH, *(f"channel_{s}" for s in SUFFIXES)}
    group = [j for j, f in enumerate(features) if f in with_channel]
    rest = [j for j, f in enumerate(features) if f != "channel"]
    return [group, rest]


@dataclass
class ChannelModel:
    """A fitted channel model and how to lay out its inputs.

    Attributes:
        booster: P(respond | contact on c, x) (or P(book | c, x) without reactions).
        features: inputs in model order.
        levels: categorical levels (``channel`` included).
        conversion: channel -> [P(book | no response), P(book | response)].
        prior: the per-channel age curve the trees start from (``training.channel_prior``).
    """

    booster: lgb.Booster
    features: list[str]
    levels: dict[str, list[str]]
    conversion: dict[str, list[float]]
    prior: ChannelPrior

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """P(booking | contacted on c) for every channel, columns ``p_<channel>``."""
        base = [f for f in self.features if f != "channel" and not f.startswith("channel_")]
        return self.predict_matrix(to_matrix(frame, base, self.levels), base, frame.index)

    def predict_matrix(
        self, x_base: np.ndarray, base: list[str], index: pd.Index | None = None,
        num_threads: int = 0,
    ) -> pd.DataFrame:
        """Per-channel probabilities from a return-model matrix.

        Args:
            x_base: the return model's input matrix (``training.matrix.to_matrix``).
            base: its column names.
            index: index of the result.
            num_threads: LightGBM threads (0: its default, all cores).

        Returns:
            Frame with ``p_<channel>`` per ``CHANNELS``.
        """
        x = np.empty((len(x_base), len(self.features)), dtype=np.float32, order="F")
        x[:, : len(base)] = x_base
        probs = self.predict_in_place(x, base, num_threads)
        return pd.DataFrame(probs, index=index, columns=[f"p_{ch}" for ch in CHANNELS])

    def predict_in_place(self, x: np.ndarray, base: list[str], num_threads: int = 0
                         ) -> np.ndarray:
        """Per-channel probabilities, ``(n, CHANNELS)``, writing the channel columns of ``x``.

        Why in place (the scoring path): ``x`` is the return model's matrix with room for
        this model's extra columns (``training.matrix.to_matrix(..., spare=...)``), so a
        million rows are never copied; each channel only rewrites the channel code and the
        patient's own-channel columns before its prediction.

        Args:
            x: ``(n, len(self.features))`` float32, column-major; its first ``len(base)``
                columns hold the return-model inputs ``base``. The rest is overwritten.
            base: the return-model input names.
            num_threads: LightGBM threads (0: its default, all cores).
        """
        n_base = len(base)
        if self.features[:n_base] != base or x.shape[1] != len(self.features):
            raise ValueError("the channel model was trained on other inputs than this matrix")
        position = {name: j for j, name in enumerate(base)}
        channel_col = self.features.index("channel")
        age = x[:, position["age_years"]] if "age_years" in position else np.full(
            len(x), np.nan, dtype=np.float32)
        own = [(self.features.index(f"channel_{s}"), s) for s in SUFFIXES]
        out = np.full((len(x), len(CHANNELS)), np.nan)
        for code, ch in enumerate(self.levels["channel"]):
            x[:, channel_col] = code
            for j, suffix in own:
                x[:, j] = x[:, position[f"{ch}_{suffix}"]]
            raw = self.booster.predict(x, raw_score=True, num_threads=num_threads)
            raw += self.prior.log_odds(ch, age)
            r = 1.0 / (1.0 + np.exp(-raw))
            silent, answered = self.conversion[ch]
            out[:, CHANNELS.index(ch)] = r * answered + (1.0 - r) * silent
        return out


def conversion_rates(rows: pd.DataFrame) -> dict[str, list[float]]:
    """P(book | no reaction) pooled over channels, and smoothed P(book | reaction, channel).

    Why pooled without a reaction: a contact the patient ignored did not bring them in, so
    its channel should not matter; per-channel rates of such bookings mostly measure which
    campaigns used which channel (the credit goes to the latest contact) and would decide
    the channel for patients unlikely to react at all. The reacted-to rates are pulled
    toward their overall rate by ``RATE_PRIOR`` pseudo-contacts.
    """
    silent = float(rows.loc[rows["responded"] == 0, "booked"].mean())
    answered = rows.loc[rows["responded"] == 1]
    prior = float(answered["booked"].mean()) if len(answered) else silent
    cells = answered.groupby("channel")["booked"].agg(["sum", "size"])
    out = {}
    for ch in CHANNELS:
        s, n = cells.loc[ch] if ch in cells.index else (0.0, 0.0)
        out[ch] = [silent, float((s + RATE_PRIOR * prior) / (n + RATE_PRIOR))]
    return out


def fit_channel_model(
    rows: pd.DataFrame, base: list[str], levels: dict[str, list[str]], settings: Settings
) -> ChannelModel | None:
    """Fit on contact rows (oldest first); rounds chosen by early stopping on the latest share.

    Returns None when there are too few contacts or bookings to learn from.
    """
    if rows.empty or rows["booked"].sum() < MIN_POSITIVES or len(rows) < MIN_ROWS:
        return None
    with_reactions = rows["responded"].sum() >= MIN_POSITIVES
    y = rows["responded" if with_reactions else "booked"].to_numpy()
    conversion = (conversion_rates(rows) if with_reactions
                  else {ch: [0.0, 1.0] for ch in CHANNELS})
    features = channel_features(base)
    levels = {**levels, "channel": list(CHANNELS)}
    cat_idx = [j for j, f in enumerate(features) if f in levels]
    x = to_matrix(rows, features, levels)
    age = rows["age_years"].to_numpy(dtype=float, na_value=np.nan)
    prior = ChannelPrior.fit(rows["channel"].to_numpy(dtype=object), age, y)
    offset = prior.log_odds(rows["channel"].to_numpy(dtype=object), age)
    cut = int(len(rows) * (1 - settings.training.channel_validation_share))
    params = {**lgb_params(settings, channel=True), "monotone_constraints": _monotone(features),
              "monotone_constraints_method": "intermediate",
              "interaction_constraints": _interactions(features)}
    dtrain = lgb.Dataset(x[:cut], y[:cut], feature_name=features, categorical_feature=cat_idx,
                         init_score=offset[:cut])
    dvalid = lgb.Dataset(x[cut:], y[cut:], reference=dtrain, init_score=offset[cut:])
    booster = lgb.train(
        params, dtrain, num_boost_round=settings.training.channel_max_rounds,
        valid_sets=[dvalid], valid_names=["latest"],
        callbacks=[lgb.early_stopping(settings.training.early_stopping_rounds, verbose=False)],
    )
    best = booster.best_iteration or booster.current_iteration()
    # Refit on every contact with the chosen number of rounds: the latest contacts are the
    # most like the ones the model will be used for.
    dall = lgb.Dataset(x, y, feature_name=features, categorical_feature=cat_idx,
                       init_score=offset)
    final = lgb.train(params, dall, num_boost_round=max(best, 1))
    return ChannelModel(final, features, levels, conversion, prior)
