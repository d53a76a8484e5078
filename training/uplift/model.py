"""The fitted uplift model of a bundle, its honest fallback and the default ordering.

Why a fallback with words: without randomised holdouts (``campaign_members``) or enough
past contacts the effect of a message cannot be estimated; the bundle then says so
(``available`` false and a reason) and the service ranks by return probability. The same
object records which ordering ``training.default_ordering`` resolved to, and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from features.config import Settings
from features.export.tables import Tables
from features.pipeline.events import Prepared
from features.vocabulary import CHANNELS
from training.return_model import ReturnModel
from training.uplift.design import CONTROL
from training.uplift.learners import LEARNERS, StructuredUplift, learner_from_dict
from training.uplift.pull_forward import PullForwardUplift
from training.uplift.rows import control_rows, member_rows, pull_rows

MIN_HOLDOUT, MIN_TREATED, MIN_CONTACTS, MIN_BOOKED_CONTACTS = 100, 300, 500, 30
MIN_SNAPSHOT_ROWS = 1000
PROBABILITY, INCREMENTAL = "probability", "incremental_value"


@dataclass
class UpliftModel:
    """A fitted learner (or none) and what the bundle says about it."""

    learner: Any | None
    available: bool
    reason: str
    ordering: str = PROBABILITY
    ordering_reason: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)

    def predict_matrix(self, x: np.ndarray, num_threads: int = 0,
                       response: np.ndarray | None = None) -> np.ndarray | None:
        """``(n, channels)`` effects for a return-model matrix, or None when unavailable.

        ``response``: the channel model's probabilities of the same rows (the pull-forward
        learner's channel tilt; the other learners ignore it).
        """
        if not self.available or self.learner is None:
            return None
        if isinstance(self.learner, PullForwardUplift):
            return self.learner.predict(x, num_threads=num_threads, response=response)
        return self.learner.predict(x, num_threads=num_threads)

    @property
    def explainable(self) -> bool:
        """True when the learner's effect can be explained per input (``contributions``)."""
        return self.available and isinstance(self.learner, PullForwardUplift)

    def contributions(self, x: np.ndarray, num_threads: int = 0) -> np.ndarray | None:
        """Per-input SHAP contributions (log-odds) to the patient's part of the uplift.

        Only the pull-forward learner has one booster whose output the effect is
        proportional to (``PullForwardUplift.contributions``); for the others (T, DR,
        structured: a difference or product of several boosters) this returns None and the
        service explains with the return model instead, saying so.
        """
        if not self.explainable:
            return None
        return self.learner.contributions(x, num_threads)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state (learner boosters as LightGBM model text)."""
        return {"available": self.available, "reason": self.reason, "ordering": self.ordering,
                "ordering_reason": self.ordering_reason, "metrics": self.metrics,
                "learner": self.learner.to_dict() if self.learner is not None else None}

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> UpliftModel:
        """Rebuild from :meth:`to_dict`."""
        learner = _learner_from_dict(state["learner"]) if state.get("learner") else None
        return cls(learner, bool(state["available"]), state["reason"], state["ordering"],
                   state.get("ordering_reason", ""), state.get("metrics", {}))


def unavailable(reason: str) -> UpliftModel:
    """The fallback: no uplift, rank by return probability, say why."""
    return UpliftModel(None, False, reason, PROBABILITY,
                       f"ranked by return probability: {reason}")


def fit_uplift(
    tables: Tables, prepared: Prepared, snapshot_rows: pd.DataFrame,
    contact_rows: pd.DataFrame, until: pd.Timestamp, model: ReturnModel, settings: Settings,
    channel: Any = None, members: pd.DataFrame | None = None,
) -> tuple[UpliftModel, pd.DataFrame]:
    """Fit the learner named by ``training.uplift_learner`` on data known by ``until``.

    Args:
        snapshot_rows: return-model snapshot rows (their no-contact part trains p0).
        contact_rows: channel-model contact rows (``training.contact_rows``).
        until: every outcome window used ends by the end of this day.
        model: the return model (its inputs are the uplift inputs).
        channel: the channel model (the pull-forward learner's channel tilt), or None.
        members: ``member_rows`` known by ``until``, when the caller built them already.

    Returns:
        The model (possibly the fallback) and the member rows it was calibrated on.
    """
    if members is None:
        members = member_rows(tables, prepared, until, settings)
    why = _thin(members, contact_rows)
    if why:
        return unavailable(why), members
    kind = settings.training.uplift_learner
    x_m = model_matrix(members, model)
    t_m, y_m = members["treatment"].to_numpy(), members["y"].to_numpy().astype(float)
    if kind == PullForwardUplift.kind:
        window = settings.features.attribution_days
        long_days = max(settings.training.uplift_long_days, settings.horizon_days)
        rows, y_window, y_long = pull_rows(snapshot_rows, tables, until, window, long_days)
        if len(rows) < MIN_SNAPSHOT_ROWS or y_long.sum() < MIN_BOOKED_CONTACTS:
            return unavailable(f"only {len(rows):,} patient-months whose {long_days}-day "
                               f"booking window is known (at least {MIN_SNAPSHOT_ROWS:,} are "
                               "needed)"), members
        learner = PullForwardUplift(model.features, model.levels, settings.seed,
                                    settings.training.num_threads,
                                    settings.training.uplift_max_rounds, window, long_days)
        response = channel.predict_matrix(x_m, model.features).to_numpy() \
            if channel is not None else None
        learner.fit(model_matrix(rows, model), y_window, y_long)
        if settings.training.uplift_tilt == "response":
            learner.fit_response(model_matrix(contact_rows, model), contact_rows)
        elif settings.training.uplift_tilt == "reaction":
            learner.fit_reaction(model_matrix(contact_rows, model), contact_rows)
        learner.calibrate(x_m, t_m, y_m, response)
        n_hold = int((t_m == CONTROL).sum())
        reason = (f"pull-forward estimate from {len(rows):,} patient-months, its scale from "
                  f"{len(members):,} members of {members['campaign_id'].nunique()} campaigns "
                  f"({n_hold:,} held out)")
        return UpliftModel(learner, True, reason), members
    learner = LEARNERS[kind](model.features, model.levels, settings.seed,
                             settings.training.num_threads, settings.training.uplift_max_rounds)
    if isinstance(learner, StructuredUplift):
        control = control_rows(snapshot_rows, tables, until, settings)
        t_c = contact_rows["channel"].map({c: i for i, c in enumerate(CHANNELS)}).to_numpy()
        x = np.vstack([model_matrix(control, model), model_matrix(contact_rows, model)])
        t = np.r_[np.full(len(control), CONTROL), t_c]
        y = np.r_[control["y"].to_numpy(), contact_rows["booked"].to_numpy()].astype(float)
        learner.fit(x, t, y).calibrate(x_m, t_m, y_m)
    else:
        known = t_m != -2
        learner.fit(x_m[known], t_m[known], y_m[known])
    n_hold = int((t_m == CONTROL).sum())
    reason = (f"learned from {len(members):,} members of {members['campaign_id'].nunique()} "
              f"campaigns ({n_hold:,} held out) and {len(contact_rows):,} contacts")
    return UpliftModel(learner, True, reason), members


def _learner_from_dict(state: dict[str, Any]) -> Any:
    if state["kind"] == PullForwardUplift.kind:
        return PullForwardUplift.from_dict(state)
    return learner_from_dict(state)


def model_matrix(frame: pd.DataFrame, model: ReturnModel) -> np.ndarray:
    """The return model's input matrix for any frame holding its features."""
    from training.matrix import to_matrix

    return to_matrix(frame, model.features, model.levels)


def _thin(members: pd.DataFrame, contacts: pd.DataFrame) -> str:
    """Why the data cannot support an uplift estimate ('' when it can)."""
    if members.empty:
        return ("the export has no campaign members with a randomised holdout, so the effect "
                "of a message cannot be measured")
    n_hold = int((members["treatment"] == CONTROL).sum())
    n_treat = len(members) - n_hold
    if n_hold < MIN_HOLDOUT or n_treat < MIN_TREATED:
        return (f"only {n_hold} held-out and {n_treat} treated campaign members so far "
                f"(at least {MIN_HOLDOUT} and {MIN_TREATED} are needed)")
    if contacts.empty or len(contacts) < MIN_CONTACTS or contacts["booked"].sum() < MIN_BOOKED_CONTACTS:
        n = 0 if contacts.empty else len(contacts)
        return (f"only {n} past contacts with a known outcome (at least {MIN_CONTACTS}, "
                f"{MIN_BOOKED_CONTACTS} of them followed by a booking, are needed)")
    return ""
