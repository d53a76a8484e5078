"""The channel model's starting point: a per-channel logistic curve in age.

Why: how likely a patient is to react to a text, an email, a call or a letter shifts
smoothly with age (younger patients answer texts, older ones calls and letters). Trees need
many splits per channel to draw such a curve from few contacts; a logistic regression with an
intercept and an age slope per channel draws it from all of them. The trees of the channel
model then start from these log-odds (LightGBM ``init_score``) and learn only corrections.
Missing age gets its own term per channel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression

from features.vocabulary import CHANNELS

AGE_CENTER, AGE_SCALE = 50.0, 15.0


def _design(channel: np.ndarray, age: np.ndarray) -> np.ndarray:
    """Per channel: indicator, indicator x standardised age, indicator x age missing."""
    age = np.asarray(age, dtype=float)
    missing = np.isnan(age)
    z = np.where(missing, 0.0, (age - AGE_CENTER) / AGE_SCALE)
    cols = []
    for ch in CHANNELS:
        on = (channel == ch).astype(float)
        cols += [on, on * z, on * missing]
    return np.column_stack(cols)


@dataclass
class ChannelPrior:
    """Fitted log-odds ``intercept + slope * (age - 50) / 15`` (or ``+ missing``) per channel."""

    coef: dict[str, list[float]]

    @classmethod
    def fit(cls, channel: np.ndarray, age: np.ndarray, y: np.ndarray) -> ChannelPrior:
        """Fit on contacts: their channel, the patient's age, the 0/1 outcome."""
        lr = LogisticRegression(C=10.0, fit_intercept=False, max_iter=2000)
        lr.fit(_design(np.asarray(channel, dtype=object), age), np.asarray(y, dtype=int))
        w = lr.coef_.reshape(len(CHANNELS), 3)
        return cls({ch: [float(v) for v in w[i]] for i, ch in enumerate(CHANNELS)})

    def log_odds(self, channel: str | np.ndarray, age: np.ndarray) -> np.ndarray:
        """Prior log-odds for contacts on ``channel`` (one name, or one per row)."""
        age = np.asarray(age, dtype=np.float64)
        if isinstance(channel, str):  # scoring: one channel for every row, no design matrix
            intercept, slope, missing = self.coef[channel]
            z = (age - AGE_CENTER) / AGE_SCALE
            return np.where(np.isnan(age), intercept + missing, intercept + slope * z)
        w = np.asarray([self.coef[ch] for ch in CHANNELS])
        return _design(np.asarray(channel, dtype=object), age) @ w.reshape(-1)
