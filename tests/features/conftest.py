"""Shared builders for the feature tests: tiny hand-typed exports."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest

from features.config import Settings
from features.export.tables import Tables, conform

TIME_COLUMNS = ("visit_at", "booked_at", "sent_at", "responded_at", "birth_date", "created_at")


def frame(rows: list[dict] | None, table: str) -> pd.DataFrame:
    """A conformed table from a list of dicts (dates as strings)."""
    raw = pd.DataFrame(rows or [])
    for col in TIME_COLUMNS:
        if col in raw:
            raw[col] = pd.to_datetime(raw[col], format="ISO8601")
    if "revenue" in raw:
        raw["revenue"] = raw["revenue"].astype(float)
    return conform(raw, table)


def make(
    visits: list[dict],
    patients: list[dict] | None = None,
    contacts: list[dict] | None = None,
    export_date: str = "2024-12-31",
) -> Tables:
    """Tables from hand-typed rows; without ``patients`` every visit's patient is in 'default'."""
    v = frame(visits, "visits")
    v["status"] = v["status"].fillna("completed")
    if patients is None:
        ids = list(dict.fromkeys(v["patient_id"]))
        p = frame([{"patient_id": i, "clinic_id": "default"} for i in ids], "patients")
    else:
        p = frame(patients, "patients")
    c = None if contacts is None else frame(contacts, "contacts")
    return Tables(visits=v, patients=p, contacts=c, export_date=pd.Timestamp(export_date),
                  has_patients_table=patients is not None)


@pytest.fixture
def make_tables() -> Callable[..., Tables]:
    """Factory for tiny exports (see :func:`make`)."""
    return make


@pytest.fixture
def settings() -> Settings:
    """Default settings (no file, no environment)."""
    return Settings()
