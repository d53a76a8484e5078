"""Where MLflow keeps runs and models: a SQLite file and a folder under the models dir.

Why explicit URIs everywhere and nothing at import time: several stores may live side by
side (tests, a clinic's ``--models-dir``), so every function takes the models dir and the
global MLflow state is set only inside :func:`using_store`, then restored. The paths
themselves are ``features.store_paths``'. MLflow is made quiet once, by :func:`quiet`, when
the first client or store is opened (before ``mlflow`` is imported, which reads the
environment), not at import of this module.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from features.store_paths import artifacts_dir, tracking_uri

EXPERIMENT = "reactivation"
QUIET_LOGGERS: tuple[str, ...] = ("mlflow", "alembic", "sqlalchemy.engine", "urllib3")
QUIET_ENVIRONMENT: dict[str, str] = {
    "MLFLOW_LOGGING_LEVEL": "WARNING",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
}
_quieted = False

__all__ = ["EXPERIMENT", "artifact_root", "client", "experiment_id", "quiet", "tracking_uri",
           "using_store"]


def quiet() -> None:
    """Silence MLflow's progress bars, telemetry and migration chatter, once per process.

    Variables the caller already set win (``setdefault``); later calls do nothing, so a
    process that turns a logger back up keeps its choice.
    """
    global _quieted
    if _quieted:
        return
    for key, value in QUIET_ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    _quieted = True


def artifact_root(models_dir: str | Path) -> str:
    """URI of the artifact folder of the experiment, ``<models dir>/artifacts``."""
    return artifacts_dir(models_dir).as_uri()


def client(models_dir: str | Path):  # noqa: ANN201 - mlflow import is deferred (slow)
    """An ``MlflowClient`` bound to the store under ``models_dir`` (created if needed)."""
    quiet()
    from mlflow.tracking import MlflowClient

    Path(models_dir).mkdir(parents=True, exist_ok=True)
    uri = tracking_uri(models_dir)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def experiment_id(models_dir: str | Path) -> str:
    """Id of the ``reactivation`` experiment, created with its artifact location if absent."""
    c = client(models_dir)
    found = c.get_experiment_by_name(EXPERIMENT)
    if found is not None:
        return found.experiment_id
    return c.create_experiment(EXPERIMENT, artifact_location=artifact_root(models_dir))


@contextmanager
def using_store(models_dir: str | Path) -> Iterator[str]:
    """Point MLflow's fluent API at the store for the duration of the block.

    Yields:
        The experiment id to start runs in.
    """
    quiet()
    import mlflow

    exp = experiment_id(models_dir)
    previous_tracking, previous_registry = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    uri = tracking_uri(models_dir)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        yield exp
    finally:
        mlflow.set_tracking_uri(previous_tracking)
        mlflow.set_registry_uri(previous_registry)
