"""The model registry: log a run, register its bundle, move ``champion`` only on evidence.

Why the champion is re-scored on the challenger's rows: metrics from two runs are measured
on different windows and cannot be compared. The challenger's validation rows (features and
labels) are scored again with the current champion, and the alias moves only when the
challenger is better on exactly those rows (``training.promotion_metric``), or on
``--promote``. :func:`compare_with_champion` is that comparison, the one used by
registration, by ``reactivate evaluate`` and by the retraining notebook.
"""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import numpy as np
import pandas as pd

from features.config import Settings
from features.store_paths import has_model_store
from training.bundle import ModelBundle
from training.fit import TrainResult
from training.metrics import LOWER_IS_BETTER, score_forecast
from training.tracking import client, using_store
from training.training_snapshots import HELD_OUT_PATIENTS

ALIAS = "champion"
PIP_REQUIREMENTS: list[str] = [
    "lightgbm>=4.3,<5", "pandas>=2.2,<3", "numpy>=1.26,<3", "scikit-learn>=1.4,<2",
    "pyarrow>=15", "mlflow>=3.0,<4",
]


class NoChampion(LookupError):
    """The registry has no version with the ``champion`` alias yet."""


@dataclass(frozen=True)
class ChampionComparison:
    """A challenger against the current champion on the same validation rows.

    Attributes:
        metric: the deciding metric (``training.promotion_metric``).
        challenger_value: the challenger's value of ``metric``.
        champion_value: the champion's value on the same rows; None when there is no
            champion or it cannot score these rows.
        champion_version: the champion's registry version, None when there is none.
        challenger_wins: the challenger should take the ``champion`` alias (better on
            ``metric``, or nothing comparable holds it).
        reason: one sentence saying why, for the console and the version's tags.
        champion_scores: every ``score_forecast`` metric of the champion on the same rows
            (for the evaluation table), None when ``champion_value`` is None.
    """

    metric: str
    challenger_value: float
    champion_value: float | None
    champion_version: str | None
    challenger_wins: bool
    reason: str
    champion_scores: dict[str, float] | None = None

    def as_tags(self) -> dict[str, float]:
        """``challenger_<metric>`` and (when measured) ``champion_<metric>``."""
        tags = {f"challenger_{self.metric}": self.challenger_value}
        if self.champion_value is not None:
            tags[f"champion_{self.metric}"] = self.champion_value
        return tags


@dataclass(frozen=True)
class Registration:
    """Outcome of registering a run."""

    run_id: str
    version: str
    promoted: bool
    reason: str
    previous_champion: str | None
    comparison: dict[str, float]


def log_and_register(
    result: TrainResult, settings: Settings, promote: bool = False
) -> Registration:
    """Log the run to MLflow, register the bundle, decide the ``champion`` alias.

    Args:
        result: a finished training run (``training.fit.train``).
        settings: the run's settings (``models_dir`` locates the store).
        promote: move the alias regardless of the comparison.
    """
    name = settings.training.registered_model_name
    c = client(settings.models_dir)
    compared = compare_with_champion(result.bundle, result.validation, settings,
                                     validation_probabilities(result))
    with using_store(settings.models_dir) as exp:
        run_id, model_uri = _log_run(result, settings, exp)
        if not c.search_registered_models(filter_string=f"name = '{name}'"):
            c.create_registered_model(name, description="Return and channel models.")
        # Inside the block: resolving the logged model's URI needs the store set globally.
        mv = c.create_model_version(name, source=model_uri, run_id=run_id,
                                    tags={"as_of": str(result.split.as_of.date())})
    previous = _champion_version(c, name)
    promoted = promote or compared.challenger_wins or previous is None
    reason = ("--promote" if promote else "first version" if previous is None
              else compared.reason)
    if promoted:
        c.set_registered_model_alias(name, ALIAS, mv.version)
    comparison = compared.as_tags()
    for key, value in {**comparison, "promoted": promoted, "reason": reason}.items():
        c.set_model_version_tag(name, mv.version, key, str(value))
    return Registration(run_id, str(mv.version), promoted, reason, previous, comparison)


def _log_run(result: TrainResult, settings: Settings, experiment: str) -> tuple[str, str]:
    """One MLflow run: parameters, window, metrics, evaluation, the bundle, the pyfunc."""
    import mlflow

    name = f"train-{result.split.as_of.date()}"
    with tempfile.TemporaryDirectory() as tmp, \
            mlflow.start_run(experiment_id=experiment, run_name=name) as run:
        bundle_dir = result.bundle.save(Path(tmp) / "bundle")
        mlflow.log_params(_params(result, settings))
        mlflow.log_metrics(_flat_metrics(result.evaluation))
        mlflow.set_tags({"as_of": str(result.split.as_of.date()),
                         "horizon_days": str(settings.horizon_days),
                         "validation_mode": result.split.mode,
                         "validated": "; ".join(result.split.validated()),
                         "not_validated": "; ".join(result.bundle.window.get("not_validated", []))
                         or "nothing: separate calibration and validation windows"})
        mlflow.log_dict(result.evaluation, "evaluation.json")
        mlflow.log_dict(result.bundle.window, "window.json")
        mlflow.log_artifacts(str(bundle_dir), artifact_path="bundle")
        # MLflow warns that a plain DataFrame hint gives no signature: that is the intent.
        pyfunc_log = logging.getLogger("mlflow.pyfunc")
        level = pyfunc_log.level
        pyfunc_log.setLevel(logging.ERROR)
        try:
            info = mlflow.pyfunc.log_model(
                name="model", python_model=str(Path(__file__).with_name("pyfunc_entry.py")),
                artifacts={"bundle": str(bundle_dir)}, pip_requirements=PIP_REQUIREMENTS,
                code_paths=[str(Path(__file__).parent)],
            )
        finally:
            pyfunc_log.setLevel(level)
        return run.info.run_id, info.model_uri


def compare_with_champion(
    challenger: ModelBundle, rows: pd.DataFrame, settings: Settings,
    challenger_p: np.ndarray | None = None,
) -> ChampionComparison:
    """Score the current champion on the challenger's validation rows and compare.

    Args:
        challenger: the newly trained bundle.
        rows: its validation rows (features and ``label``), e.g. ``TrainResult.validation``.
        settings: ``models_dir`` locates the registry; ``training.promotion_metric`` decides.
        challenger_p: the challenger's backtest probabilities on ``rows`` when its own
            prediction is not one (:func:`validation_probabilities`); default: predict.
    """
    metric = settings.training.promotion_metric
    y = rows["label"].to_numpy()
    p = challenger.predict_return(rows) if challenger_p is None else challenger_p
    mine = score_forecast(y, p)[metric]
    try:
        champion, version = load_champion(settings)
    except NoChampion:
        return ChampionComparison(metric, mine, None, None, True, "first version")
    try:
        scores = score_forecast(y, champion.predict_return(rows))
    except (KeyError, ValueError) as err:  # champion needs inputs this data no longer has
        why = f"champion v{version} cannot score this data ({type(err).__name__})"
        return ChampionComparison(metric, mine, None, version, True, why)
    theirs = scores[metric]
    better = mine < theirs if metric in LOWER_IS_BETTER else mine > theirs
    verdict = "beats" if better else "does not beat"
    why = f"{metric} {mine:.4f} {verdict} champion v{version} {theirs:.4f} on the same rows"
    return ChampionComparison(metric, mine, theirs, version, better, why, scores)


def validation_probabilities(result: TrainResult) -> np.ndarray:
    """The challenger's backtest probabilities on its validation rows.

    Pooled on held-out patients, the bundle itself has seen those rows, so the backtest is
    its out-of-fold probabilities; otherwise the bundle's own prediction is the backtest.
    """
    held_out = result.split.mode == HELD_OUT_PATIENTS and result.p_validation is not None
    return result.p_validation if held_out else result.bundle.predict_return(result.validation)


def champion_version(settings: Settings) -> str | None:
    """Version holding the ``champion`` alias, or None (cheap: no bundle is read)."""
    if not has_model_store(settings.models_dir):
        return None
    return _champion_version(client(settings.models_dir), settings.training.registered_model_name)


def _champion_version(c: Any, name: str) -> str | None:
    from mlflow.exceptions import MlflowException

    try:
        return str(c.get_model_version_by_alias(name, ALIAS).version)
    except MlflowException:
        return None


def load_champion(settings: Settings) -> tuple[ModelBundle, str]:
    """The bundle holding the ``champion`` alias and its version number.

    Raises:
        NoChampion: when nothing has been registered (or promoted) yet.
    """
    if not has_model_store(settings.models_dir):
        raise NoChampion(f"no model store in {settings.models_dir}: run `reactivate train` first")
    c = client(settings.models_dir)
    name = settings.training.registered_model_name
    version = _champion_version(c, name)
    if version is None:
        raise NoChampion(f"no '{ALIAS}' version of model '{name}': run `reactivate train` first")
    run_id = c.get_model_version(name, version).run_id
    return ModelBundle.load(_bundle_path(c, run_id)), version


def _bundle_path(c: Any, run_id: str) -> Path:
    """Local folder of a run's ``bundle`` artifact (downloaded if the store is remote)."""
    uri = c.get_run(run_id).info.artifact_uri
    parsed = urlparse(uri)
    if parsed.scheme in ("", "file"):
        return Path(unquote(parsed.path)) / "bundle"
    return Path(c.download_artifacts(run_id, "bundle", tempfile.mkdtemp()))


def list_versions(settings: Settings) -> pd.DataFrame:
    """Registered versions, newest first.

    Returns:
        Frame with ``version``, ``aliases``, ``created``, ``as_of``, ``run_id``, ``auc``,
        ``brier``, ``ece``, ``promoted``, ``reason`` (empty without a store).
    """
    columns = ["version", "aliases", "created", "as_of", "run_id", "auc", "brier", "ece",
               "promoted", "reason"]
    if not has_model_store(settings.models_dir):
        return pd.DataFrame(columns=columns)
    c = client(settings.models_dir)
    name = settings.training.registered_model_name
    aliases: dict[str, list[str]] = {}
    for alias, version in c.get_registered_model(name).aliases.items():
        aliases.setdefault(str(version), []).append(alias)
    rows = []
    for mv in c.search_model_versions(f"name = '{name}'"):
        metrics = c.get_run(mv.run_id).data.metrics if mv.run_id else {}
        rows.append({
            "version": int(mv.version),
            "aliases": ",".join(sorted(aliases.get(str(mv.version), []))),
            "created": pd.Timestamp(mv.creation_timestamp, unit="ms"),
            "as_of": mv.tags.get("as_of", ""),
            "run_id": mv.run_id,
            "auc": metrics.get("model_auc", np.nan),
            "brier": metrics.get("model_brier", np.nan),
            "ece": metrics.get("model_ece", np.nan),
            "promoted": mv.tags.get("promoted", ""),
            "reason": mv.tags.get("reason", ""),
        })
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values("version", ascending=False, ignore_index=True)


def _params(result: TrainResult, settings: Settings) -> dict[str, Any]:
    cfg = settings.training.model_dump()
    params = {k: v for k, v in cfg.items() if not isinstance(v, dict)}
    params.update({
        "horizon_days": settings.horizon_days, "seed": settings.seed,
        "as_of": str(result.split.as_of.date()),
        "train_from": str(result.split.train[0].date()),
        "train_to": str(result.split.train[-1].date()),
        "validation": ",".join(str(d.date()) for d in result.split.validation),
        "n_features": len(result.bundle.features),
        "validation_mode": result.split.mode,
        "channel_costs": json.dumps(settings.policy.channel_costs),
    })
    return params


def _flat_metrics(evaluation: dict[str, Any]) -> dict[str, float]:
    out = {}
    for who, metrics in evaluation["return"].items():
        for key, value in metrics.items():
            if isinstance(value, (int, float)) and np.isfinite(value):
                out[f"{who}_{key}"] = float(value)
    for key, value in (evaluation.get("channels") or {}).items():
        out[f"channel_{key}"] = float(value)
    uplift = evaluation.get("uplift") or {}
    for part in ("oracle", "held_out_campaigns"):
        for who, metrics in ((uplift.get(part) or {}).get("rankings") or {}).items():
            for key, value in metrics.items():
                if isinstance(value, (int, float)) and np.isfinite(value):
                    out[f"uplift_{part}_{who}_{key}"] = float(value)
    out["uplift_available"] = float(bool(uplift.get("available")))
    return out
