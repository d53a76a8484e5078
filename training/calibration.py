"""Calibrators: map a model's raw probability to an honest one.

Why not pickle sklearn objects: the bundle must load in any later version of the product, so
the learned state is a few numbers saved as JSON. Both calibrators follow the scikit-learn
shape (``__init__`` stores parameters, ``fit`` returns self, learned state ends in ``_``).
They are fitted on windows later than the model's training windows (see ``training.fit``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

_EPS = 1e-6


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


class IsotonicCalibrator:
    """Monotone step map from raw to calibrated probability, interpolated between knots."""

    method = "isotonic"

    def fit(self, raw: np.ndarray, y: np.ndarray) -> IsotonicCalibrator:
        """Learn the knots from raw probabilities and 0/1 outcomes."""
        iso = IsotonicRegression(y_min=_EPS, y_max=1 - _EPS, out_of_bounds="clip")
        iso.fit(np.asarray(raw, dtype=float), np.asarray(y, dtype=float))
        self.x_ = np.asarray(iso.X_thresholds_, dtype=float)
        self.y_ = np.asarray(iso.y_thresholds_, dtype=float)
        return self

    def transform(self, raw: np.ndarray) -> np.ndarray:
        """Calibrated probabilities for raw probabilities."""
        return np.interp(np.asarray(raw, dtype=float), self.x_, self.y_)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state."""
        return {"method": self.method, "x": self.x_.tolist(), "y": self.y_.tolist()}


class PlattCalibrator:
    """Logistic map on the raw log-odds: ``sigmoid(a * logit(p) + b)``."""

    method = "platt"

    def fit(self, raw: np.ndarray, y: np.ndarray) -> PlattCalibrator:
        """Learn slope and intercept from raw probabilities and 0/1 outcomes."""
        lr = LogisticRegression(C=1e6, max_iter=1000)
        lr.fit(_logit(raw).reshape(-1, 1), np.asarray(y, dtype=int))
        self.a_ = float(lr.coef_[0, 0])
        self.b_ = float(lr.intercept_[0])
        return self

    def transform(self, raw: np.ndarray) -> np.ndarray:
        """Calibrated probabilities for raw probabilities."""
        return 1.0 / (1.0 + np.exp(-(self.a_ * _logit(raw) + self.b_)))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state."""
        return {"method": self.method, "a": self.a_, "b": self.b_}


Calibrator = IsotonicCalibrator | PlattCalibrator


def make_calibrator(method: str) -> Calibrator:
    """An unfitted calibrator by name (``isotonic`` or ``platt``)."""
    if method == "isotonic":
        return IsotonicCalibrator()
    if method == "platt":
        return PlattCalibrator()
    raise ValueError(f"unknown calibration method {method!r}: use 'isotonic' or 'platt'")


def calibrator_from_dict(state: dict[str, Any]) -> Calibrator:
    """Rebuild a fitted calibrator from :meth:`to_dict` output."""
    if state["method"] == "isotonic":
        cal = IsotonicCalibrator()
        cal.x_, cal.y_ = np.asarray(state["x"], dtype=float), np.asarray(state["y"], dtype=float)
        return cal
    if state["method"] == "platt":
        platt = PlattCalibrator()
        platt.a_, platt.b_ = float(state["a"]), float(state["b"])
        return platt
    raise ValueError(f"unknown calibration method {state['method']!r}")
