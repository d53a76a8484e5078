"""The Spark engine runs the pandas pipeline per clinic and gives the pandas answers.

Spark local mode with a small clinic group; skipped where pyspark or Java is missing, except
in CI, where both are installed by ``.ci/run`` and a skip would hide a broken engine.
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

pyspark = pytest.importorskip("pyspark") if not os.environ.get("CI") else __import__("pyspark")
if shutil.which("java") is None and not os.environ.get("CI"):
    pytest.skip("java is not installed", allow_module_level=True)

from serving.batch.per_clinic import ClinicTooLarge, JobSpec, clinic_rows  # noqa: E402
from serving.batch.spark_engine import run_job, spark_session  # noqa: E402

AS_OF = pd.Timestamp("2026-06-30")
CLINICS = {"north": 260, "south": 180, "east": 120}


def write_parquet_export(tables, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("patients", "visits", "contacts"):
        getattr(tables, name).to_parquet(folder / f"{name}.parquet", index=False)
    return folder


@pytest.fixture(scope="module")
def group_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tables = simulate_group(CLINICS, seed=11, start="2024-01-01", end="2026-06-30")
    return write_parquet_export(tables, tmp_path_factory.mktemp("group") / "export")


@pytest.fixture(scope="module")
def spark():
    session = spark_session("local[2]", Settings(spark={"shuffle_partitions": 4}))
    yield session
    session.stop()


def read_dataset(path: Path) -> pd.DataFrame:
    frame = pd.read_parquet(path)
    frame["clinic_id"] = frame["clinic_id"].astype(str)
    return frame.sort_values("patient_id", ignore_index=True)


def test_spark_features_equal_the_pandas_features_of_the_whole_group(spark, group_export,
                                                                     tmp_path):
    settings = Settings()
    tables = load(group_export, settings).tables
    spec = JobSpec(kind="features", as_of=AS_OF)
    expected = clinic_rows(tables, spec, settings, None).sort_values(
        "patient_id", ignore_index=True)
    out = run_job(spark, str(group_export), spec, settings, tmp_path / "features.parquet")
    got = read_dataset(out)[expected.columns]
    assert len(got) == len(expected) == sum(CLINICS.values())
    assert got["patient_id"].tolist() == expected["patient_id"].tolist()
    for col in expected.columns:
        a, b = expected[col], got[col]
        if pd.api.types.is_numeric_dtype(a) and not pd.api.types.is_bool_dtype(a):
            np.testing.assert_allclose(b.astype(float), a.astype(float), rtol=0, atol=1e-9,
                                       equal_nan=True, err_msg=col)
        else:
            left = a.astype(object).where(a.notna(), None).tolist()
            right = b.astype(object).where(b.notna(), None).tolist()
            assert left == right, col


def test_a_clinic_too_large_for_one_task_is_refused_before_any_task_runs(spark, group_export,
                                                                        tmp_path):
    settings = Settings(spark={"max_patients_per_task": 200})
    with pytest.raises(ClinicTooLarge, match="north \\(260 patients\\)"):
        run_job(spark, str(group_export), JobSpec(kind="features", as_of=AS_OF), settings,
                tmp_path / "features.parquet")
    assert not (tmp_path / "features.parquet").exists()
