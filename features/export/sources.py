"""Read the raw tables of a clinic export from any accepted container.

Three containers, one result: a dict ``{table name: Arrow table}`` with lower-case column
names, holding only the tables the source has. Values are left as the source gave them
(strings from CSV, typed values from Parquet or databases); ``features.export.parsing`` turns them
into the contract's types and ``features.export.validation`` judges them.

Why Arrow: ``pyarrow.csv`` reads a 1.6M-row visits file with every column as text in under a
second on two cores (pandas' ``read_csv(dtype=str)`` needed about four) and hands the parser
columns its vectorised kernels work on directly; DuckDB and Parquet give Arrow natively.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from features.export.validation import REQUIRED

TABLE_NAMES: tuple[str, ...] = ("patients", "visits", "contacts", "campaign_members")
DUCKDB_SUFFIXES: tuple[str, ...] = (".duckdb", ".ddb", ".db")
ROW_OF: dict[str, str] = {
    "patients": "patient", "visits": "appointment", "contacts": "outreach attempt",
    "campaign_members": "campaign member",
}


class SourceError(ValueError):
    """The source cannot be read at all (missing folder, no visits table, ambiguous files)."""


def describe(source: str | Path) -> str:
    """A short, log-safe description of a source (no credentials)."""
    text = str(source)
    if "://" in text:
        from sqlalchemy.engine import make_url

        return make_url(text).render_as_string(hide_password=True)
    return text


def read_source(
    source: str | Path, schema: str | None = None, lazy: bool = False
) -> Mapping[str, pa.Table]:
    """Read every contract table the source holds.

    Args:
        source: a folder of ``.csv``/``.parquet`` files, a DuckDB file, or a SQLAlchemy URL.
        schema: database schema for SQLAlchemy sources (default: the connection's default).
        lazy: for a folder, read each file only when its table is asked for, and keep
            nothing (the loader parses one table at a time, so the raw text of a whole
            export is never held at once); other sources are read at once.

    Returns:
        ``{table: frame}`` for the tables present; ``visits`` is always among them.
    """
    text = str(source)
    if "://" in text:
        tables = _read_sqlalchemy(text, schema)
    else:
        path = Path(source)
        if path.is_dir():
            tables = _FolderTables(path)
            if not lazy:
                tables = dict(tables.items())
        elif path.is_file() and path.suffix.lower() in DUCKDB_SUFFIXES:
            tables = _read_duckdb(path)
        elif path.exists():
            raise SourceError(
                f"{path}: not a folder, DuckDB file ({', '.join(DUCKDB_SUFFIXES)}) or database URL"
            )
        else:
            raise SourceError(f"{path}: no such folder or file")
    if "visits" not in tables:
        raise SourceError(f"{describe(source)}: the required table 'visits' is missing")
    if isinstance(tables, _FolderTables):
        return tables
    return {name: _normalise_columns(frame) for name, frame in tables.items()}


def as_arrow(frame: pd.DataFrame | pa.Table) -> pa.Table:
    """An in-memory frame as an Arrow table (row numbers are its positions).

    Object columns Arrow cannot type as one kind (mixed values from a database driver) are
    passed on as text, missing values kept missing.
    """
    if isinstance(frame, pa.Table):
        return frame
    frame = frame.reset_index(drop=True)
    try:
        return pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        mixed = {
            c: frame[c].where(frame[c].isna(), frame[c].astype(str))
            for c in frame.columns
            if frame[c].dtype == object
        }
        return pa.Table.from_pandas(frame.assign(**mixed), preserve_index=False)


def _normalise_columns(frame: pd.DataFrame | pa.Table) -> pa.Table:
    """Lower-case, stripped column names, as an Arrow table (row numbers are positions)."""
    table = as_arrow(frame)
    return table.rename_columns([str(c).strip().lower() for c in table.column_names])


def _read_csv_as_text(path: Path, name: str) -> pa.Table:
    """Every column as text; only an empty cell is missing ("NA" is a value, as in pandas).

    Raises:
        SourceError: the file is empty (0 bytes, or blank lines only): it has not even the
            header line that names the columns.
    """
    header = _header(path)
    if not any(c.strip() for c in header):
        size = path.stat().st_size
        raise SourceError(
            f"{path}: the {name} table is empty ({size} byte{'s' if size != 1 else ''}, no "
            f"header line): it needs a first line naming its columns (at least "
            f"{', '.join(REQUIRED[name])}) and then one line per {ROW_OF[name]}"
        )
    convert = pacsv.ConvertOptions(
        column_types={name: pa.string() for name in header},
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
    )
    try:
        return pacsv.read_csv(path, convert_options=convert)
    except pa.ArrowInvalid as err:
        # Arrow's message quotes the offending line, which may hold patient data: keep only
        # what it says went wrong.
        said = re.match(r"^(.*?got \d+)", str(err)) or re.match(r"^([^:]*)", str(err))
        raise SourceError(f"{path}: not a readable CSV file ({said.group(1)})") from err


def _header(path: Path) -> list[str]:
    """Column names of a CSV file (its first line only is read)."""
    import csv

    with path.open(newline="", encoding="utf-8-sig") as handle:
        return next((line for line in csv.reader(handle) if line), [])


class _FolderTables(Mapping[str, pa.Table]):
    """The tables of a folder, each file read when its table is asked for (not kept)."""

    def __init__(self, folder: Path) -> None:
        self.paths: dict[str, Path] = {}
        for name in TABLE_NAMES:
            found = [p for p in (folder / f"{name}.csv", folder / f"{name}.parquet") if p.exists()]
            if len(found) > 1:
                raise SourceError(f"{folder}: both {name}.csv and {name}.parquet exist; keep one")
            if found:
                self.paths[name] = found[0]

    def __getitem__(self, name: str) -> pa.Table:
        path = self.paths[name]
        if path.suffix == ".csv":
            # Everything as text: parsing and its errors belong to the validator, and an
            # empty cell means "unknown" (contract), never the string "nan".
            return _normalise_columns(_read_csv_as_text(path, name))
        return _normalise_columns(pq.read_table(path))

    def __contains__(self, name: object) -> bool:
        return name in self.paths

    def __iter__(self) -> Iterator[str]:
        return iter(self.paths)

    def __len__(self) -> int:
        return len(self.paths)


def _read_duckdb(path: Path) -> dict[str, pa.Table]:
    import duckdb

    with duckdb.connect(str(path), read_only=True) as con:
        present = {
            r[0].lower()
            for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
        return {
            name: con.sql(f'SELECT * FROM "{name}"').to_arrow_table()
            for name in TABLE_NAMES
            if name in present
        }


def _read_sqlalchemy(url: str, schema: str | None) -> dict[str, pd.DataFrame]:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        present = {t.lower(): t for t in sa.inspect(engine).get_table_names(schema=schema)}
        with engine.connect() as con:
            return {
                name: pd.read_sql_table(present[name], con, schema=schema)
                for name in TABLE_NAMES
                if name in present
            }
    finally:
        engine.dispose()
