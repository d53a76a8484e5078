"""The rules clinics use today, scored on the same rows as the model.

Why each baseline is given its best shot: a rule is a ranking, not a probability. Each rule
learns on the calibration rows which direction of its score predicts a return, and an
isotonic map from score to probability, so its AUC, Brier score and calibration are the best
that rule can do. (Recall lists order "longest since the last visit first"; if that order
predicts returns worse than chance, the learned direction flips it and the table says so.)

* ``recency``: days since the last completed visit.
* ``overdue``: the hiatus rule, days since the last visit over the expected interval.
* ``bgnbd``: the BG/NBD buy-till-you-die model (``lifetimes``), fitted at each as-of date on
  the visit history known then, giving P(at least one visit within the horizon).

:func:`rule_ranking` is a rule's ranking score given its learned direction; the manager
report draws the rules' gains curves with it, so a rule means the same thing there.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from features.vocabulary import COMPLETED, cutoff
from training.calibration import StepIsotonic

RULE_COLUMNS: dict[str, str] = {"recency": "days_since_last_visit", "overdue": "overdue_ratio"}


def _values(frame: pd.DataFrame, column: str) -> np.ndarray:
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)


def _median_fill(values: np.ndarray) -> float:
    """What a missing rule value counts as: the median of the known ones (0 if none)."""
    return float(np.nanmedian(values)) if np.isfinite(values).any() else 0.0


def rule_ranking(frame: pd.DataFrame, column: str, direction: float) -> np.ndarray:
    """A rule's ranking score on ``frame``: ``direction`` times its column, gaps at the median.

    Args:
        frame: rows holding the rule's ``column`` (see ``RULE_COLUMNS``).
        column: the rule's column.
        direction: the learned sign (``RuleBaseline.sign_``, the backtest's ``direction``).
    """
    values = _values(frame, column)
    return direction * np.where(np.isnan(values), _median_fill(values), values)


class RuleBaseline:
    """A one-column rule turned into a calibrated forecast (direction learned, isotonic map)."""

    def __init__(self, name: str, column: str) -> None:
        self.name = name
        self.column = column

    def _raw(self, frame: pd.DataFrame) -> np.ndarray:
        values = _values(frame, self.column)
        return np.where(np.isnan(values), self.fill_, values)

    def fit(self, frame: pd.DataFrame, y: np.ndarray) -> RuleBaseline:
        """Learn direction and probability map from rows with features and outcomes."""
        self.fill_ = _median_fill(_values(frame, self.column))
        raw = self._raw(frame)
        auc = roc_auc_score(y, raw) if len(np.unique(y)) == 2 else 0.5
        self.sign_ = 1.0 if auc >= 0.5 else -1.0
        self.calibrator_ = StepIsotonic().fit(self.sign_ * raw, y)
        return self

    def predict(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(probability, ranking score) for each row of ``frame``."""
        rank = self.sign_ * self._raw(frame)
        return self.calibrator_.transform(rank), rank


def rfm_summary(
    visits: pd.DataFrame, patient_ids: pd.Index, as_of: str | pd.Timestamp
) -> pd.DataFrame:
    """Frequency/recency/age (in weeks) of completed visit days known at ``as_of``.

    Returns:
        Frame indexed like ``patient_ids`` with ``frequency`` (repeat visit days),
        ``recency`` (first to last visit day), ``T`` (first visit day to the end of day T);
        NaN for patients without a completed visit.
    """
    # Only the two columns used are taken, as arrays: copying every column of the visits
    # rows kept (ids, services, revenue...) was the largest allocation of a million-patient
    # training run's backtest.
    status = visits["status"]
    visit_at = visits["visit_at"].to_numpy()
    done = ((status.isna() | status.eq(COMPLETED)).to_numpy(bool)
            & (visit_at < cutoff(as_of).to_datetime64()))
    days = pd.DataFrame(
        {
            "patient_id": visits["patient_id"].to_numpy()[done],
            "day": visit_at[done].astype("datetime64[D]").astype("datetime64[ns]"),
        }
    ).drop_duplicates()
    agg = days.groupby("patient_id", sort=False)["day"].agg(["min", "max", "count"])
    end = cutoff(as_of)
    out = pd.DataFrame(
        {
            "frequency": (agg["count"] - 1).astype(float),
            "recency": (agg["max"] - agg["min"]).dt.days / 7.0,
            "T": (end - agg["min"]).dt.days / 7.0,
        }
    )
    return out.reindex(patient_ids)


def bgnbd_probability(
    visits: pd.DataFrame,
    patient_ids: pd.Index,
    as_of: str | pd.Timestamp,
    horizon_days: int,
    penalizer: float = 0.001,
) -> np.ndarray:
    """P(at least one completed visit in the horizon) under a BG/NBD fitted at ``as_of``.

    The model is fitted on every patient with a visit known at ``as_of`` (no labels are
    used). For a patient alive at T, the posterior visit rate is Gamma(r + x, alpha + T), so
    P(no visit in t) = ((alpha + T) / (alpha + T + t)) ** (r + x); a patient no longer alive
    never visits. Patients without history get the population's mean.
    """
    from lifetimes import BetaGeoFitter  # slow import, only needed here

    everyone = pd.Index(visits["patient_id"].unique())
    rfm = rfm_summary(visits, everyone, as_of).dropna()
    fitter = _fit_bgnbd(BetaGeoFitter, rfm, penalizer)
    p = _at_least_one(fitter, rfm, horizon_days / 7.0)
    prob = pd.Series(p, index=rfm.index).reindex(patient_ids)
    return prob.fillna(float(np.nanmean(p)) if len(p) else 0.0).to_numpy(dtype=float)


def _fit_bgnbd(fitter_class: type, rfm: pd.DataFrame, penalizer: float) -> object:
    """Fit a BG/NBD; on small or odd clinics where it does not converge, penalise harder.

    ``lifetimes`` raises ConvergenceError on some few-hundred-patient histories; a stronger
    L2 penalty on the parameters always converges and only shrinks them, so the baseline
    stays available instead of aborting the whole training run.
    """
    last: Exception | None = None
    for coef in (penalizer, 0.01, 0.1, 1.0):
        fitter = fitter_class(penalizer_coef=coef)
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                fitter.fit(rfm["frequency"], rfm["recency"], rfm["T"])
            return fitter
        except Exception as err:  # lifetimes.utils.ConvergenceError and numeric failures
            last = err
    raise RuntimeError(
        f"BG/NBD baseline did not converge even with penalizer 1.0: {last}"
    ) from last


def _at_least_one(fitter: object, rfm: pd.DataFrame, t: float) -> np.ndarray:
    """Closed-form P(>= 1 purchase in (T, T + t]) of a fitted BG/NBD."""
    r, alpha = fitter.params_["r"], fitter.params_["alpha"]  # type: ignore[attr-defined]
    x, big_t = rfm["frequency"].to_numpy(), rfm["T"].to_numpy()
    alive = np.asarray(
        fitter.conditional_probability_alive(  # type: ignore[attr-defined]
            x, rfm["recency"].to_numpy(), big_t
        ),
        dtype=float,
    )
    none_if_alive = ((alpha + big_t) / (alpha + big_t + t)) ** (r + x)
    return np.clip(alive * (1.0 - none_if_alive), 0.0, 1.0)


class BGNBDBaseline:
    """BG/NBD probabilities, used as they come (the model is already a probability)."""

    name = "bgnbd"

    def __init__(self, horizon_days: int) -> None:
        self.horizon_days = horizon_days

    def predict_at(
        self, visits: pd.DataFrame, patient_ids: pd.Index, as_of: str | pd.Timestamp
    ) -> tuple[np.ndarray, np.ndarray]:
        """(probability, ranking score) for ``patient_ids`` from the history known at T."""
        p = bgnbd_probability(visits, patient_ids, as_of, self.horizon_days)
        return p, p
