"""The Arrow parsing path gives exactly what the per-cell pandas path gave, on every fixture."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from features.export.loading import load
from features.export.parsing import parse_series, parse_table
from features.export.sources import read_source
from features.export.tables import KEYS, ROW_KEY_DTYPE, TABLE_DTYPES
from tests.conftest import write_export

TABLES = ("patients", "visits", "contacts")
# Values in every shape the parsers meet: blanks, padding, case, odd dates and numbers.
AWKWARD = {
    "patients": (
        "patient_id,created_at,consent_sms,birth_date\n"
        " p1 ,2020-01-01,TRUE,1980-02-29\np2,never,1.0,1981-02-29\np3,  ,y,0001-01-01\n"
        "p4,2020-01-01T10:00:00,no,2020-01-01 10:00:00\np5,2020-01-01T10:00:00.250,maybe,\n"
    ),
    "visits": (
        "patient_id,visit_at,revenue,status\np1,2024-01-05, 10 ,Completed\n"
        "p1,2024-1-5,1e3,done\np2,2024-02-30,-1,\np3,2024-01-05T10:00,abc, scheduled \n"
        "p4,2024-03-01 12:00:00.5,.5,no_show\np5,  ,inf,cancelled\n"
    ),
    "contacts": "patient_id,channel,sent_at\np1,SMS,2024-01-01\np1,fax,2024-01-02\np2, ,\n",
}


def _old_parse(raw: pd.DataFrame, table: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The pre-Arrow path: every column through the pandas parsers, cell by cell for text."""
    frame, present, bad = {}, {}, {}
    for col in [c for c in TABLE_DTYPES[table] if c in raw.columns]:
        parsed, has = parse_series(raw[col], table, col)
        frame[col], present[col] = parsed, has.astype(bool)
        bad[col] = has & parsed.isna()
    return pd.DataFrame(frame), pd.DataFrame(present), pd.DataFrame(bad)


def _as_objects(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """The row key of a text source stays Arrow text (``ROW_KEY_DTYPE``); its values as the
    pandas path holds them (str, None)."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == ROW_KEY_DTYPE:
            assert col == KEYS[table]
            out[col] = out[col].astype(object).where(out[col].notna(), None)
    return out


def _assert_same_parse(arrow_raw, pandas_raw: pd.DataFrame, table: str) -> None:  # noqa: ANN001
    new = parse_table(arrow_raw, table)
    frame, present, bad = _old_parse(pandas_raw, table)
    pd.testing.assert_frame_equal(_as_objects(new.frame, table), frame)
    pd.testing.assert_frame_equal(new.present, present)
    pd.testing.assert_frame_equal(new.unparseable, bad)


def _pandas_csv(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False, na_values=[""])


@pytest.mark.parametrize("fixture", ["valid", "awkward"])
def test_arrow_csv_parsing_equals_the_pandas_path(
    fixture: str, export_dir: Path, tmp_path: Path
) -> None:
    folder = export_dir if fixture == "valid" else write_export(tmp_path / "odd", **AWKWARD)
    raw = read_source(folder)
    for name in TABLES:
        _assert_same_parse(raw[name], _pandas_csv(folder, name), name)


@pytest.mark.parametrize("fixture", ["valid", "awkward"])
def test_arrow_parquet_parsing_equals_the_pandas_path(
    fixture: str, export_dir: Path, tmp_path: Path
) -> None:
    folder = export_dir if fixture == "valid" else write_export(tmp_path / "odd", **AWKWARD)
    pq_dir = tmp_path / "pq"
    pq_dir.mkdir()
    for name in TABLES:
        _pandas_csv(folder, name).to_parquet(pq_dir / f"{name}.parquet")
    raw = read_source(pq_dir)
    for name in TABLES:
        _assert_same_parse(raw[name], pd.read_parquet(pq_dir / f"{name}.parquet"), name)


def test_typed_parquet_columns_keep_the_pandas_parsers(export_dir: Path, tmp_path: Path) -> None:
    tables = load(export_dir).tables
    pq_dir = tmp_path / "typed"
    pq_dir.mkdir()
    for name in TABLES:
        getattr(tables, name).to_parquet(pq_dir / f"{name}.parquet")
    for name in TABLES:
        raw = pq.read_table(pq_dir / f"{name}.parquet")
        _assert_same_parse(raw, raw.to_pandas(), name)


def test_lenient_load_of_awkward_values_accounts_for_every_row(tmp_path: Path) -> None:
    result = load(write_export(tmp_path / "odd", **AWKWARD), lenient=True)
    r = result.report
    for table in TABLES:
        assert r.accepted[table] + r.rejected[table] == r.read[table]
    assert len(r.rejects) == sum(r.rejected.values())
    assert r.rejects["data_row"].min() >= 1
