"""The model bundle: everything scoring and explaining needs, saved as one folder.

Why a folder of plain files (LightGBM text models, JSON, Parquet) and no pickle: a bundle
is the unit of deployment, logged to MLflow and loaded by the service, possibly by a later
version of the product; plain files stay readable. Layout::

    bundle.json          format, creation time, data window, channel ranking
    return_model.txt     LightGBM return booster (uncalibrated log-odds)
    calibrator.json      raw probability -> calibrated probability
    channel_model.txt    LightGBM channel booster (absent without contacts)
    feature_spec.json    model inputs in order, categorical levels, the feature spec
    reference.parquet    a sample of validation-window rows (drift reference)
    metrics.json         evaluation of the model and the baselines
    settings.json        the settings of the training run
    uplift_model.json    uplift learner (boosters as text), availability, ordering and why

``bundle.json`` also holds the attempt factors (``training.attempt_model``): how much an
unanswered attempt lowers the next one, which the sequence planner applies when serving.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from features.spec import BY_NAME
from training.attempt_model import AttemptFactors, prior_factors
from training.calibration import calibrator_from_dict
from training.channel_model import ChannelModel
from training.channel_prior import ChannelPrior
from training.context import CONTEXT_SPECS
from training.matrix import to_matrix, to_model_frame
from training.return_model import ReturnModel
from training.uplift.model import UpliftModel

BUNDLE_FORMAT = 1
RETURN_BASIS, UPLIFT_BASIS = "return", "uplift"  # what a set of reasons explains
SPECS = {**BY_NAME, **{s.name: s for s in CONTEXT_SPECS}}


@dataclass
class ModelBundle:
    """A trained return model, optional channel model, and their context."""

    return_model: ReturnModel
    channel_model: ChannelModel | None
    reference: pd.DataFrame
    metrics: dict[str, Any] = field(default_factory=dict)
    window: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    channel_ranking: list[str] = field(default_factory=list)
    created_at: str = ""
    uplift_model: UpliftModel | None = None
    attempt_factors: AttemptFactors = field(default_factory=prior_factors)

    @property
    def features(self) -> list[str]:
        """Return-model inputs, in model order."""
        return self.return_model.features

    @property
    def levels(self) -> dict[str, list[str]]:
        """Saved levels of the categorical inputs."""
        return self.return_model.levels

    def matrix(self, frame: pd.DataFrame) -> np.ndarray:
        """The return model's input matrix for a feature frame."""
        return to_matrix(frame, self.features, self.levels)

    def model_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The model inputs as a readable frame (categories, "never" recencies filled)."""
        return to_model_frame(frame, self.features, self.levels)

    def predict_return(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of a completed visit within the horizon, per row."""
        return self.return_model.predict(frame)

    def predict_channels(self, frame: pd.DataFrame) -> pd.DataFrame | None:
        """``p_<channel>`` per row, or None without a channel model."""
        return None if self.channel_model is None else self.channel_model.predict(frame)

    def explain(self, frame: pd.DataFrame) -> pd.DataFrame:
        """SHAP contributions of each input to the return model, per row.

        Contributions are in log-odds of the *uncalibrated* model (LightGBM TreeSHAP, the same
        numbers ``shap.TreeExplainer`` gives); they sum with ``bias`` to the raw log-odds.
        Calibration is monotone, so their signs and order keep their meaning.

        Returns:
            Frame indexed like ``frame`` with one column per model input plus ``bias``.
        """
        contrib = self.return_model.booster.predict(self.matrix(frame), pred_contrib=True)
        return pd.DataFrame(contrib, index=frame.index, columns=[*self.features, "bias"])

    def contributions(self, x: np.ndarray, basis: str = RETURN_BASIS,
                      num_threads: int = 0) -> np.ndarray:
        """Per-input SHAP contributions (log-odds, bias dropped) for a return-model matrix.

        Args:
            x: ``self.matrix(frame)``.
            basis: ``"return"`` (the return model: why a patient is likely to come back) or
                ``"uplift"`` (the uplift learner's patient part: why a message adds a
                booking; see ``UpliftModel.contributions``).
            num_threads: LightGBM threads (0: all cores).

        Raises:
            ValueError: ``"uplift"`` asked of a bundle whose uplift cannot be explained
                (check :meth:`explains_uplift` first).
        """
        if basis == UPLIFT_BASIS:
            found = self.uplift_model.contributions(x, num_threads) \
                if self.uplift_model is not None else None
            if found is None:
                raise ValueError("this bundle's uplift model cannot be explained per input")
            return found
        contrib = self.return_model.booster.predict(x, pred_contrib=True,
                                                    num_threads=num_threads)
        return np.asarray(contrib)[:, : len(self.features)]

    @property
    def explains_uplift(self) -> bool:
        """True when :meth:`contributions` can explain the uplift."""
        return self.uplift_model is not None and self.uplift_model.explainable

    def save(self, directory: str | Path) -> Path:
        """Write the bundle into ``directory`` (created if needed); returns it."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        self.return_model.booster.save_model(str(out / "return_model.txt"))
        _write_json(out / "calibrator.json", self.return_model.calibrator.to_dict())
        if self.channel_model is not None:
            self.channel_model.booster.save_model(str(out / "channel_model.txt"))
        spec = {
            "features": self.features,
            "levels": self.levels,
            "channel_features": self.channel_model.features if self.channel_model else None,
            "channel_levels": self.channel_model.levels if self.channel_model else None,
            "channel_conversion": self.channel_model.conversion if self.channel_model else None,
            "channel_prior": self.channel_model.prior.coef if self.channel_model else None,
            "spec": [asdict(SPECS[f]) for f in self.features if f in SPECS],
        }
        _write_json(out / "feature_spec.json", spec)
        self.reference.to_parquet(out / "reference.parquet")
        _write_json(out / "metrics.json", self.metrics)
        _write_json(out / "settings.json", self.settings)
        _write_json(out / "bundle.json", {
            "format": BUNDLE_FORMAT, "created_at": self.created_at, "window": self.window,
            "channel_ranking": self.channel_ranking, "uplift": self.uplift_summary(),
            "attempt_factors": asdict(self.attempt_factors),
        })
        if self.uplift_model is not None:
            _write_json(out / "uplift_model.json", self.uplift_model.to_dict())
        return out

    def uplift_summary(self) -> dict[str, Any]:
        """``uplift_available``, its reason, the default ordering and why (bundle metadata)."""
        u = self.uplift_model
        if u is None:
            return {"uplift_available": False, "reason": "this bundle has no uplift model",
                    "ordering": "probability",
                    "ordering_reason": "ranked by return probability: no uplift model"}
        return {"uplift_available": u.available, "reason": u.reason, "ordering": u.ordering,
                "ordering_reason": u.ordering_reason}

    @classmethod
    def load(cls, directory: str | Path) -> ModelBundle:
        """Read a bundle written by :meth:`save`."""
        src = Path(directory)
        meta = json.loads((src / "bundle.json").read_text())
        if meta.get("format") != BUNDLE_FORMAT:
            raise ValueError(f"unsupported bundle format {meta.get('format')!r} in {src}")
        spec = json.loads((src / "feature_spec.json").read_text())
        booster = lgb.Booster(model_file=str(src / "return_model.txt"))
        calibrator = calibrator_from_dict(json.loads((src / "calibrator.json").read_text()))
        ret = ReturnModel(booster, calibrator, spec["features"], spec["levels"])
        channel = None
        if (src / "channel_model.txt").exists():
            channel = ChannelModel(lgb.Booster(model_file=str(src / "channel_model.txt")),
                                   spec["channel_features"], spec["channel_levels"],
                                   spec["channel_conversion"],
                                   ChannelPrior(spec["channel_prior"]))
        return cls(
            return_model=ret,
            channel_model=channel,
            reference=pd.read_parquet(src / "reference.parquet"),
            metrics=json.loads((src / "metrics.json").read_text()),
            window=meta["window"],
            settings=json.loads((src / "settings.json").read_text()),
            channel_ranking=meta.get("channel_ranking", []),
            created_at=meta.get("created_at", ""),
            uplift_model=(UpliftModel.from_dict(json.loads((src / "uplift_model.json").read_text()))
                          if (src / "uplift_model.json").exists() else None),
            # bundles written before sequences existed carry no factors: the documented prior
            attempt_factors=(AttemptFactors(**meta["attempt_factors"])
                             if "attempt_factors" in meta else prior_factors()),
        )


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, default=_json_default, allow_nan=True))


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (pd.Timestamp, Path)):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
