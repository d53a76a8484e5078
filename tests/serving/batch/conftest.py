"""One Spark local session and one small scored clinic group for every Spark engine test.

The session (and its JVM) is started once for the whole directory: a JVM costs seconds, and
the JDBC driver jar must be on its classpath from the start. Tests skip where pyspark or Java
is missing, except in CI, where ``.ci/run`` installs both and a skip would hide a broken engine.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.config import Settings
from features.export.loading import load
from features.simulator.group import simulate_group
from tests.training.conftest import small_settings

CLINICS = {"north": 520, "south": 360, "east": 240}
END = "2026-06-30"
AS_OF = pd.Timestamp(END)
TABLES = ("patients", "visits", "contacts")


def skip_without_spark() -> None:
    """Skip the calling test module where Spark cannot run (never in CI)."""
    if os.environ.get("CI"):
        return
    pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        pytest.skip("java is not installed", allow_module_level=True)


def write_parquet_export(tables, folder: Path) -> Path:
    """The contract's tables as one Parquet file each, as a group's export would hold them."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in TABLES:
        getattr(tables, name).to_parquet(folder / f"{name}.parquet", index=False)
    return folder


def assert_same_rows(expected: pd.DataFrame, got: pd.DataFrame) -> None:
    """Same patients; floats within 1e-9; every other column (channels, segments) identical."""
    expected = expected.sort_values("patient_id", ignore_index=True)
    got = got.sort_values("patient_id", ignore_index=True)[expected.columns]
    assert got["patient_id"].tolist() == expected["patient_id"].tolist()
    for col in expected.columns:
        a, b = expected[col], got[col]
        if pd.api.types.is_float_dtype(a):
            np.testing.assert_allclose(b.astype(float), a.astype(float), rtol=0, atol=1e-9,
                                       equal_nan=True, err_msg=col)
        else:
            left = a.astype(object).where(a.notna(), None).tolist()
            right = b.astype(object).where(b.notna(), None).tolist()
            assert left == right, col


@pytest.fixture(scope="session")
def group(tmp_path_factory: pytest.TempPathFactory):
    """A three-clinic export as Parquet, its loaded tables, settings and a trained bundle."""
    tables = simulate_group(CLINICS, seed=11, start="2023-07-01", end=END)
    folder = write_parquet_export(tables, tmp_path_factory.mktemp("group") / "export")
    settings = small_settings()
    loaded = load(folder, settings).tables
    from training.fit import train

    bundle = train(loaded, AS_OF, settings).bundle
    return folder, loaded, settings, bundle


@pytest.fixture(scope="session")
def spark():
    """Spark local[2], with the PostgreSQL JDBC driver on its classpath (CI installs it)."""
    from serving.batch.spark_engine import spark_session

    settings = small_settings()
    settings = settings.model_copy(update={"spark": settings.spark.model_copy(
        update={"shuffle_partitions": 3})})
    jdbc = bool(os.environ.get("CI")) or Path(Settings().spark.jdbc_jars).exists()
    session = spark_session("local[2]", settings, jdbc=jdbc)
    yield session
    session.stop()


@pytest.fixture(scope="session")
def parquet_snapshot(spark, group, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The group scored by the Spark engine from its Parquet folder (model version 7)."""
    from serving.batch.per_clinic import JobSpec
    from serving.batch.spark_engine import run_job

    folder, _, settings, bundle = group
    out = tmp_path_factory.mktemp("scored") / "scored_2026-06-30.parquet"
    return run_job(spark, str(folder), JobSpec(kind="score", as_of=AS_OF, model_version="7"),
                   settings, out, bundle)
