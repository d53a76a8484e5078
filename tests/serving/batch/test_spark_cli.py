"""``reactivate score --engine spark`` as a user runs it: train, score on Spark, compare.

Through the command line (typer app), on the session's small clinic group: the Spark
command writes the partitioned snapshot and its drift summary where the pandas command
writes its file, with the same rows. The Spark session of the directory is reused (the
command leaves a session it did not start running), so no second JVM starts.
"""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tests.serving.batch.conftest import CLINICS, assert_same_rows, skip_without_spark
from tests.training.test_cli import CONFIG  # the lean models of the command-line tests

skip_without_spark()

from serving.cli.app import app  # noqa: E402
from training.scored_snapshot import latest_snapshot, read_snapshot  # noqa: E402


def test_score_with_engine_spark_writes_what_the_pandas_command_writes(spark, group, tmp_path):
    folder = group[0]
    config = tmp_path / "settings.toml"
    config.write_text(CONFIG)
    models = tmp_path / "models"
    common = ["--models-dir", str(models), "--config", str(config)]
    runner = CliRunner()
    trained = runner.invoke(app, ["train", str(folder), *common, "--promote"])
    assert trained.exit_code == 0, trained.output

    on_spark = runner.invoke(app, ["score", str(folder), *common, "--engine", "spark",
                                   "--spark-master", "local[2]"])
    assert on_spark.exit_code == 0, on_spark.output
    path = latest_snapshot(models)
    assert path is not None and path.is_dir()  # a dataset partitioned by clinic
    assert sorted(p.name for p in path.iterdir() if p.is_dir()) == [
        f"clinic_id={c}" for c in sorted(CLINICS)]
    summary = _drift_summary(path)
    assert summary["current_rows"] > 0

    pandas_out = tmp_path / "pandas" / path.name
    on_pandas = runner.invoke(app, ["score", str(folder), *common, "--out", str(pandas_out)])
    assert on_pandas.exit_code == 0, on_pandas.output
    expected, got = read_snapshot(pandas_out), read_snapshot(path)
    assert list(got.columns) == list(expected.columns)
    assert got.dtypes.astype(str).tolist() == expected.dtypes.astype(str).tolist()
    assert len(got) == len(expected) > 0
    assert_same_rows(expected, got)
    pandas_summary = _drift_summary(pandas_out)  # the drift check read the same rows
    for key in ("current_rows", "tested_current_rows", "flagged", "drifted_columns"):
        assert summary[key] == pandas_summary[key], key


def _drift_summary(snapshot):  # noqa: ANN001, ANN202
    from serving.monitoring.drift import summary_paths

    return json.loads(summary_paths(snapshot)[1].read_text())
