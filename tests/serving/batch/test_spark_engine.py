"""The Spark engine runs the pandas pipeline per clinic and gives the pandas answers.

Spark local mode on a small three-clinic group. Skipped where pyspark or Java is missing,
except in CI, where ``.ci/run`` installs both and a skip would hide a broken engine.
"""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from features.export.loading import load
from features.export.validation import ContractError
from tests.serving.batch.conftest import (
    AS_OF,
    CLINICS,
    assert_same_rows,
    skip_without_spark,
)

skip_without_spark()

from serving.batch.per_clinic import ClinicTooLarge, JobSpec, clinic_rows  # noqa: E402
from serving.batch.spark_engine import run_job  # noqa: E402
from training.scored_snapshot import read_snapshot  # noqa: E402


def test_the_spark_snapshot_equals_the_pandas_snapshot_of_the_whole_group(group,
                                                                          parquet_snapshot):
    _, tables, settings, bundle = group
    spec = JobSpec(kind="score", as_of=AS_OF, model_version="7")
    expected = clinic_rows(tables, spec, settings, bundle)
    out = parquet_snapshot
    got = read_snapshot(out)
    assert list(got.columns) == list(expected.columns)
    assert len(got) == len(expected) > 0
    assert got.dtypes.astype(str).tolist() == expected.dtypes.astype(str).tolist()
    assert_same_rows(expected, got)
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == [
        f"clinic_id={c}" for c in sorted(CLINICS)]


def test_spark_features_equal_the_pandas_features(spark, group, tmp_path):
    folder, tables, settings, _ = group
    spec = JobSpec(kind="features", as_of=AS_OF)
    expected = clinic_rows(tables, spec, settings, None)
    got = pd.read_parquet(run_job(spark, str(folder), spec, settings, tmp_path / "f.parquet"))
    got["clinic_id"] = got["clinic_id"].astype(str)
    assert len(got) == len(expected) == sum(CLINICS.values())
    assert_same_rows(expected, got)


def test_a_clinic_too_large_for_one_task_is_refused_before_any_task_runs(spark, group,
                                                                        tmp_path):
    folder, _, settings, _ = group
    small = settings.model_copy(update={"spark": settings.spark.model_copy(
        update={"max_patients_per_task": 400})})
    with pytest.raises(ClinicTooLarge, match="north \\(520 patients\\)"):
        run_job(spark, str(folder), JobSpec(kind="features", as_of=AS_OF), small,
                tmp_path / "f.parquet")
    assert not (tmp_path / "f.parquet").exists()


def test_visits_of_unknown_patients_are_named_like_the_pandas_loader_does(spark, group,
                                                                         tmp_path):
    folder, _, settings, _ = group
    broken = tmp_path / "broken"
    shutil.copytree(folder, broken)
    visits = pd.read_parquet(broken / "visits.parquet")
    visits.loc[[3, 8], "patient_id"] = "nobody"
    visits.to_parquet(broken / "visits.parquet", index=False)
    with pytest.raises(ContractError) as pandas_error:
        load(broken, settings)
    with pytest.raises(ContractError) as spark_error:
        run_job(spark, str(broken), JobSpec(kind="features", as_of=AS_OF), settings,
                tmp_path / "f.parquet")
    assert "rows 4, 9" in str(pandas_error.value)
    assert "visits.patient_id: rule 'known patient (exists in patients)' broken by 2 rows " \
           "(data rows 4, 9; spreadsheet rows 5, 10)" in str(spark_error.value)
