"""The ``reactivate features`` command on a tiny CSV export."""

from __future__ import annotations

import pandas as pd
from typer.testing import CliRunner

from features.spec import FEATURE_NAMES
from serving.cli.app import app

VISITS = """patient_id,visit_at,status,service,revenue
a,2024-01-10,completed,botox,300
a,2024-04-12,completed,botox,320
b,2023-05-01,completed,laser,800
b,2024-05-02,no_show,,0
"""


def test_features_command_writes_one_row_per_patient(tmp_path):
    source = tmp_path / "export"
    source.mkdir()
    (source / "visits.csv").write_text(VISITS)
    for name in ("out.parquet", "out.csv"):
        result = CliRunner().invoke(app, ["features", str(source), "--as-of", "2024-06-01",
                                          "--out", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
    parquet = pd.read_parquet(tmp_path / "out.parquet")
    csv = pd.read_csv(tmp_path / "out.csv", index_col="patient_id")
    assert parquet.index.tolist() == ["a", "b"]
    assert parquet.columns.tolist() == ["clinic_id", *FEATURE_NAMES]
    assert parquet.loc["a", "days_since_last_visit"] == 50
    assert csv.loc["b", "noshow_count"] == 1


def test_features_command_refuses_an_unknown_output_format(tmp_path):
    source = tmp_path / "export"
    source.mkdir()
    (source / "visits.csv").write_text(VISITS)
    result = CliRunner().invoke(app, ["features", str(source), "--as-of", "2024-06-01",
                                      "--out", str(tmp_path / "out.xlsx")])
    assert result.exit_code == 2
    assert not (tmp_path / "out.xlsx").exists()
