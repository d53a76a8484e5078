"""DuckDB and PostgreSQL sources give the same Tables as the folder of CSV files."""

from __future__ import annotations

import uuid
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import sqlalchemy as sa

from features.export.loading import load
from tests.features.export.test_contract_rules import assert_same_tables

TABLES = ("patients", "visits", "contacts")


def _typed_frames(export_dir: Path) -> dict[str, pd.DataFrame]:
    """The export as a database would hold it: real timestamps, booleans and numbers."""
    tables = load(export_dir).tables
    return {name: getattr(tables, name) for name in TABLES}


def test_duckdb_file_gives_the_same_tables_as_the_folder(export_dir: Path, tmp_path: Path) -> None:
    db = tmp_path / "clinic.duckdb"
    with duckdb.connect(str(db)) as con:
        for name, frame in _typed_frames(export_dir).items():
            con.register("frame_view", frame)
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM frame_view")
            con.unregister("frame_view")
    assert_same_tables(load(db).tables, load(export_dir).tables)


def test_duckdb_file_with_text_columns_is_validated_like_csv(tmp_path: Path) -> None:
    db = tmp_path / "bad.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE TABLE visits (patient_id VARCHAR, visit_at VARCHAR, revenue DOUBLE)")
        con.execute("INSERT INTO visits VALUES ('p1', '2024-01-05', 10), ('p1', 'not a date', -1)")
    with pytest.raises(
        ValueError,
        match=r"visits.visit_at: rule 'ISO 8601 date or timestamp' broken by 1 row "
        r"\(data row 2; spreadsheet row 3\)",
    ):
        load(db)


@pytest.mark.postgres
def test_postgresql_gives_the_same_tables_as_the_folder(export_dir: Path, pg_url: str) -> None:
    schema = f"t_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(pg_url)
    try:
        with engine.begin() as con:
            con.execute(sa.text(f"CREATE SCHEMA {schema}"))
            for name, frame in _typed_frames(export_dir).items():
                frame.to_sql(name, con, schema=schema, index=False)
        from_pg = load(pg_url, schema=schema).tables
        assert_same_tables(from_pg, load(export_dir).tables)
    finally:
        with engine.begin() as con:
            con.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        engine.dispose()


@pytest.mark.postgres
def test_postgresql_errors_name_the_rule_and_hide_the_password(pg_url: str) -> None:
    schema = f"t_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(pg_url)
    try:
        with engine.begin() as con:
            con.execute(sa.text(f"CREATE SCHEMA {schema}"))
            pd.DataFrame(
                {"patient_id": ["p1", "p2"], "visit_at": ["2024-01-05", "2024-13-40"]}
            ).to_sql("visits", con, schema=schema, index=False)
        with pytest.raises(ValueError, match="visits.visit_at: rule 'ISO 8601 date or timestamp'"):
            load(pg_url, schema=schema)
    finally:
        with engine.begin() as con:
            con.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        engine.dispose()
