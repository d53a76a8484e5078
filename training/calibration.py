"""Calibrators: map a model's raw probability to an honest one, keeping the model's order.

Why strictly monotone maps: a step map (plain isotonic regression) gives every patient of a
block the same probability, so the top 5,000 of a clinic collapse into ~50 values and the
ranking inside each tie falls back to patient id. Every calibrator here is strictly
increasing in the raw probability, so ``return_probability`` ranks exactly as the model does:

* ``isotonic`` - isotonic regression (PAV), then straight lines in log-odds between the
  blocks' centroids (mean raw, mean outcome), extended beyond the outer centroids with the
  outer slopes;
* ``spline``   - the same centroids joined by a monotone cubic (PCHIP) in log-odds;
* ``platt``    - ``sigmoid(a * logit(p) + b)``.

Why not pickle sklearn objects: the bundle must load in any later version of the product, so
the learned state is a few numbers saved as JSON. All follow the scikit-learn shape
(``__init__`` stores parameters, ``fit`` returns self, learned state ends in ``_``).
``StepIsotonic`` is the plain step map, kept for the rule baselines (a rule is a ranking; its
ties are its own).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.interpolate import PchipInterpolator
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

_EPS = 1e-6
_MIN_SLOPE = 1e-3  # log-odds per log-odds: keeps the map strictly increasing everywhere
METHODS: tuple[str, ...] = ("isotonic", "spline", "platt")


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _centroids(raw: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(logit of mean raw, logit of mean outcome) of each isotonic block, strictly increasing.

    Outcomes are shrunk towards the block's raw mean by one pseudo-observation so that
    all-0 or all-1 blocks at the ends keep a finite log-odds.
    """
    raw, y = np.asarray(raw, dtype=float), np.asarray(y, dtype=float)
    iso = IsotonicRegression(out_of_bounds="clip").fit(raw, y)
    level = iso.predict(raw)
    _, block, count = np.unique(level, return_inverse=True, return_counts=True)
    mean_raw = np.bincount(block, weights=raw) / count
    rate = (np.bincount(block, weights=y) + mean_raw) / (count + 1)
    x, z = _strictly_increasing(_logit(mean_raw), _logit(rate))
    if len(x) < 2:  # a single block: no order information; fall back to the identity slope
        x, z = np.array([x[0] - 1.0, x[0] + 1.0]), np.array([z[0] - 1.0, z[0] + 1.0])
    return x, z


def _strictly_increasing(x: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The knots that rise in both coordinates over every knot kept before them."""
    keep = [0]
    for i in range(1, len(x)):
        if x[i] > x[keep[-1]] + 1e-9 and z[i] > z[keep[-1]] + 1e-9:
            keep.append(i)
    return x[keep], z[keep]


def _end_slopes(x: np.ndarray, z: np.ndarray) -> tuple[float, float]:
    lo = max((z[1] - z[0]) / (x[1] - x[0]), _MIN_SLOPE)
    hi = max((z[-1] - z[-2]) / (x[-1] - x[-2]), _MIN_SLOPE)
    return float(lo), float(hi)


def _extend(xs: np.ndarray, inside: np.ndarray, x: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Linear continuation in log-odds beyond the outer knots (strictly increasing)."""
    lo, hi = _end_slopes(x, z)
    out = np.where(xs < x[0], z[0] + lo * (xs - x[0]), inside)
    return np.where(xs > x[-1], z[-1] + hi * (xs - x[-1]), out)


class IsotonicCalibrator:
    """Isotonic regression interpolated in log-odds between block centroids."""

    method = "isotonic"

    def fit(self, raw: np.ndarray, y: np.ndarray) -> IsotonicCalibrator:
        """Learn the knots from raw probabilities and 0/1 outcomes."""
        self.x_, self.z_ = _centroids(raw, y)
        return self

    def transform(self, raw: np.ndarray) -> np.ndarray:
        """Calibrated probabilities for raw probabilities (strictly increasing in ``raw``)."""
        xs = _logit(raw)
        return _sigmoid(_extend(xs, np.interp(xs, self.x_, self.z_), self.x_, self.z_))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state."""
        return {"method": self.method, "x": self.x_.tolist(), "z": self.z_.tolist()}


class SplineCalibrator(IsotonicCalibrator):
    """The isotonic centroids joined by a monotone cubic (PCHIP) in log-odds."""

    method = "spline"

    def transform(self, raw: np.ndarray) -> np.ndarray:
        """Calibrated probabilities for raw probabilities (strictly increasing in ``raw``)."""
        xs = _logit(raw)
        inside = PchipInterpolator(self.x_, self.z_, extrapolate=False)(xs)
        return _sigmoid(_extend(xs, inside, self.x_, self.z_))


class PlattCalibrator:
    """Logistic map on the raw log-odds: ``sigmoid(a * logit(p) + b)``."""

    method = "platt"

    def fit(self, raw: np.ndarray, y: np.ndarray) -> PlattCalibrator:
        """Learn slope and intercept from raw probabilities and 0/1 outcomes."""
        lr = LogisticRegression(C=1e6, max_iter=1000)
        lr.fit(_logit(raw).reshape(-1, 1), np.asarray(y, dtype=int))
        self.a_ = max(float(lr.coef_[0, 0]), _MIN_SLOPE)  # a model that ranks backwards is
        self.b_ = float(lr.intercept_[0])  # not "calibrated" by flipping it
        return self

    def transform(self, raw: np.ndarray) -> np.ndarray:
        """Calibrated probabilities for raw probabilities."""
        return _sigmoid(self.a_ * _logit(raw) + self.b_)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state."""
        return {"method": self.method, "a": self.a_, "b": self.b_}


class StepIsotonic:
    """Plain isotonic step map (ties allowed): the rule baselines' score-to-probability map."""

    method = "step_isotonic"

    def fit(self, raw: np.ndarray, y: np.ndarray) -> StepIsotonic:
        """Learn the steps from scores and 0/1 outcomes."""
        iso = IsotonicRegression(y_min=_EPS, y_max=1 - _EPS, out_of_bounds="clip")
        iso.fit(np.asarray(raw, dtype=float), np.asarray(y, dtype=float))
        self.x_ = np.asarray(iso.X_thresholds_, dtype=float)
        self.y_ = np.asarray(iso.y_thresholds_, dtype=float)
        return self

    def transform(self, raw: np.ndarray) -> np.ndarray:
        """Probabilities for scores."""
        return np.interp(np.asarray(raw, dtype=float), self.x_, self.y_)


Calibrator = IsotonicCalibrator | SplineCalibrator | PlattCalibrator
_CLASSES: dict[str, type] = {
    "isotonic": IsotonicCalibrator, "spline": SplineCalibrator, "platt": PlattCalibrator,
}


def make_calibrator(method: str) -> Calibrator:
    """An unfitted calibrator by name (one of ``METHODS``)."""
    if method not in _CLASSES:
        raise ValueError(f"unknown calibration method {method!r}: use one of {METHODS}")
    return _CLASSES[method]()


def calibrator_from_dict(state: dict[str, Any]) -> Calibrator:
    """Rebuild a fitted calibrator from :meth:`to_dict` output."""
    method = state["method"]
    if method == "isotonic" and "z" not in state:  # bundles before the tie-free maps
        step = StepIsotonic()
        step.x_, step.y_ = np.asarray(state["x"], dtype=float), np.asarray(state["y"], dtype=float)
        return step  # type: ignore[return-value]
    if method in ("isotonic", "spline"):
        cal = _CLASSES[method]()
        cal.x_, cal.z_ = np.asarray(state["x"], dtype=float), np.asarray(state["z"], dtype=float)
        return cal
    if method == "platt":
        platt = PlattCalibrator()
        platt.a_, platt.b_ = float(state["a"]), float(state["b"])
        return platt
    raise ValueError(f"unknown calibration method {method!r}")
