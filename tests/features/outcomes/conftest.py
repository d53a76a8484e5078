"""Outcome stores to test against: a SQLite file, and PostgreSQL when the suite has one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from features.config import Settings
from features.outcomes.schema import metadata
from features.outcomes.store import OutcomeStore

PATIENTS = pd.Index(["p1", "p2", "p3"])


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OutcomeStore]:
    """An empty store: the default SQLite file in a temporary models dir, or PostgreSQL."""
    if request.param == "sqlite":
        opened = OutcomeStore.from_settings(Settings(models_dir=tmp_path / "models"))
    else:
        url = request.getfixturevalue("pg_url")
        opened = OutcomeStore(url)
        metadata.drop_all(opened.engine)
        metadata.create_all(opened.engine)
    yield opened
    opened.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings with a fixed clinic zone, so offsets convert the same on every machine."""
    return Settings(models_dir=tmp_path / "models", outcomes={"clinic_timezone": "Europe/Paris"})


def sent(event_id: str, patient: str = "p1", at: str = "2024-03-01T10:00:00", **extra) -> dict:
    """A ``sent`` event by SMS."""
    return {"event_id": event_id, "patient_id": patient, "type": "sent", "channel": "sms",
            "at": at, **extra}
