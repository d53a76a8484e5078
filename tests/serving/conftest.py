"""A real small serving world, built once per session with training's public functions.

Two simulated clinics (``north`` trains the model; both are scored into one snapshot, and
their patient ids overlap on purpose), a registered champion in a real MLflow SQLite store,
and a tokens file with one token per clinic. Tests that change artifacts copy the models dir.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

SMALL_TRAINING = {
    "max_rounds": 60,
    "channel_max_rounds": 40,
    "max_snapshots": 8,
    "early_stopping_rounds": 15,
    "min_child_samples": 30,
    "num_threads": 2,
}


@dataclass(frozen=True)
class World:
    """Paths and secrets of the session's serving world."""

    models_dir: Path
    tokens_file: Path
    north_token: str  # scope: north and west (west has no patients: 404)
    south_token: str  # scope: south
    snapshot: pd.DataFrame
    as_of: pd.Timestamp


def world_settings(models_dir: Path):
    """Settings of the small world (no background reload: tests refresh explicitly)."""
    from features.config import Settings

    return Settings(
        models_dir=models_dir,
        training=SMALL_TRAINING,
        serving={"reload_seconds": 0, "precompute_explanations": 300},
    )


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """Train, register and score once; write the snapshot and the tokens file."""
    from features.simulator import simulate
    from serving.api.auth import add_token
    from training.fit import train
    from training.registry import load_champion, log_and_register
    from training.scored_snapshot import snapshot_path, write_scored_snapshot
    from training.scoring import score
    from training.snapshot_schema import finish_snapshot

    root = tmp_path_factory.mktemp("serving-world")
    models_dir = root / "models"
    settings = world_settings(models_dir)
    north = simulate(1500, 11, "2022-01-01", "2024-06-30", clinic_id="north")
    south = simulate(500, 12, "2022-01-01", "2024-06-30", clinic_id="south")
    as_of = pd.Timestamp(north.tables.export_date).normalize()
    log_and_register(train(north.tables, as_of, settings), settings)
    bundle, version = load_champion(settings)
    scored = pd.concat(
        [
            score(north.tables, as_of, bundle, settings),
            score(south.tables, as_of, bundle, settings),
        ],
        ignore_index=True,
    )
    scored = finish_snapshot(scored, as_of, version)
    write_scored_snapshot(scored, snapshot_path(models_dir, as_of))
    tokens = root / "tokens.json"
    north_token = add_token(tokens, ["north", "west"])
    south_token = add_token(tokens, ["south"])
    return World(models_dir, tokens, north_token, south_token, scored, as_of)


def service_env(models_dir: Path, tokens_file: Path) -> dict[str, str]:
    """Environment variables that point a service at a models dir and a tokens file."""
    return {
        "REACTIVATE_MODELS_DIR": str(models_dir),
        "REACTIVATE_TOKENS_FILE": str(tokens_file),
        "REACTIVATE_SERVING__RELOAD_SECONDS": "0",
        "REACTIVATE_SERVING__PRECOMPUTE_EXPLANATIONS": "300",
        "REACTIVATE_TRAINING__NUM_THREADS": "2",
        "BENTOML_DO_NOT_TRACK": "true",
    }


class EnvPatch:
    """Set environment variables for a block and restore them after."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.saved: dict[str, str | None] = {}

    def __enter__(self) -> None:
        for key, value in self.values.items():
            self.saved[key] = os.environ.get(key)
            os.environ[key] = value

    def __exit__(self, *exc: object) -> None:
        for key, value in self.saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="session")
def client(world: World) -> Iterator:
    """An in-process client of the real service on the session world."""
    from starlette.testclient import TestClient

    from serving.api.service import Reactivate

    with (
        EnvPatch(service_env(world.models_dir, world.tokens_file)),
        TestClient(Reactivate.to_asgi()) as test_client,
    ):
        yield test_client


def copy_world(world: World, folder: Path) -> Path:
    """A private copy of the models dir, for tests that add or break artifacts."""
    target = folder / "models"
    shutil.copytree(world.models_dir, target)
    return target


def auth(token: str) -> dict[str, str]:
    """Authorization header of a bearer token."""
    return {"Authorization": f"Bearer {token}"}
