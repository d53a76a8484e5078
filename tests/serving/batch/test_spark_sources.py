"""The Spark engine's sources: PostgreSQL over JDBC, and Parquet tables split over files.

JDBC: the group's tables in a real PostgreSQL server (the suite's, ``REACTIVATE_TEST_PG_URL``)
give the snapshot the Parquet folder gives. Multi-file Parquet: Spark packs file splits into
partitions largest first, so row numbers must follow the files' order, not the partitions'.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pandas as pd
import pytest

from features.export.loading import load
from features.export.validation import ContractError
from tests.serving.batch.conftest import AS_OF, TABLES, assert_same_rows, skip_without_spark

skip_without_spark()

from serving.batch.per_clinic import JobSpec  # noqa: E402
from serving.batch.spark_engine import run_job  # noqa: E402
from training.scored_snapshot import read_snapshot  # noqa: E402


def jdbc_url(pg_url: str, schema: str) -> tuple[str, dict[str, str]]:
    """The JDBC URL (tables looked up in ``schema``) and login options of a SQLAlchemy URL."""
    import sqlalchemy as sa

    url = sa.engine.make_url(pg_url)
    login = {"user": url.username or "postgres", **({"password": url.password}
                                                    if url.password else {})}
    return (f"jdbc:postgresql://{url.host}:{url.port or 5432}/{url.database}"
            f"?currentSchema={schema}", login)


@pytest.mark.postgres
def test_a_postgresql_source_over_jdbc_gives_the_parquet_snapshot(spark, group, parquet_snapshot,
                                                                 pg_url, tmp_path):
    import sqlalchemy as sa

    folder, _, settings, bundle = group
    schema = f"spark_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(pg_url)
    try:
        with engine.begin() as con:
            con.execute(sa.text(f"CREATE SCHEMA {schema}"))
            for name in TABLES:  # the same rows, typed as a database holds them
                pd.read_parquet(folder / f"{name}.parquet").to_sql(name, con, schema=schema,
                                                                   index=False)
        url, login = jdbc_url(pg_url, schema)
        over_jdbc = settings.model_copy(update={"spark": settings.spark.model_copy(
            update={"jdbc_options": login})})
        out = run_job(spark, url, JobSpec(kind="score", as_of=AS_OF, model_version="7"),
                      over_jdbc, tmp_path / "scored_2026-06-30.parquet", bundle)
    finally:
        with engine.begin() as con:
            con.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        engine.dispose()
    expected, got = read_snapshot(parquet_snapshot), read_snapshot(out)
    assert list(got.columns) == list(expected.columns)
    assert got.dtypes.astype(str).tolist() == expected.dtypes.astype(str).tolist()
    assert len(got) == len(expected) > 0
    assert_same_rows(expected, got)


def split_into_files(path: Path, sizes: list[int]) -> None:
    """Rewrite one Parquet table as a folder of files of ``sizes`` rows (the rest last).

    The files are named so their sorted order is the table's order, which is the order the
    pandas loader (``pyarrow.parquet.read_table`` of a folder) concatenates them in.
    """
    table = pd.read_parquet(path)
    path.unlink()
    path.mkdir()
    bounds = [0, *pd.Series(sizes).cumsum().tolist(), len(table)]
    for k, (lo, hi) in enumerate(zip(bounds, bounds[1:], strict=False)):
        table.iloc[lo:hi].to_parquet(path / f"part-{k:02d}.parquet", index=False)


def test_a_bad_row_in_a_later_file_of_a_multi_file_table_is_named_as_pandas_names_it(
        spark, group, tmp_path):
    folder, _, settings, _ = group
    broken = tmp_path / "export"
    shutil.copytree(folder, broken)
    visits = pd.read_parquet(broken / "visits.parquet")
    bad = len(visits) - 7  # in the last, middle-sized file; the largest file comes before it
    visits.loc[bad, "status"] = "teleported"
    visits.to_parquet(broken / "visits.parquet", index=False)
    split_into_files(broken / "visits.parquet", [40, len(visits) - 340])
    with pytest.raises(ContractError) as pandas_error:
        load(broken, settings)
    with pytest.raises(ValueError) as spark_error:
        run_job(spark, str(broken), JobSpec(kind="features", as_of=AS_OF), settings,
                tmp_path / "f.parquet")
    named = f"broken by 1 row (data row {bad + 1}; spreadsheet row {bad + 2})"
    assert named in str(pandas_error.value)
    assert "visits.status: rule 'one of " in str(spark_error.value)
    assert named in str(spark_error.value)


def test_an_unknown_patient_in_a_later_file_is_named_as_pandas_names_it(spark, group,
                                                                       tmp_path):
    folder, _, settings, _ = group
    broken = tmp_path / "export"
    shutil.copytree(folder, broken)
    contacts = pd.read_parquet(broken / "contacts.parquet")
    bad = len(contacts) - 3
    contacts.loc[bad, "patient_id"] = "nobody"
    contacts.to_parquet(broken / "contacts.parquet", index=False)
    split_into_files(broken / "contacts.parquet", [25, len(contacts) - 125])
    with pytest.raises(ContractError) as pandas_error:
        load(broken, settings)
    with pytest.raises(ContractError) as spark_error:
        run_job(spark, str(broken), JobSpec(kind="features", as_of=AS_OF), settings,
                tmp_path / "f.parquet")
    named = f"broken by 1 row (data row {bad + 1}; spreadsheet row {bad + 2})"
    assert named in str(pandas_error.value)
    assert f"contacts.patient_id: rule 'known patient (exists in patients)' {named}" in str(
        spark_error.value)
