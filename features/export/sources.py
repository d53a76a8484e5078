"""Read the raw tables of a clinic export from any accepted container.

Three containers, one result: a dict ``{table name: raw DataFrame}`` with lower-case column
names, holding only the tables the source has. Values are left as the source gave them
(strings from CSV, typed values from Parquet or databases); ``features.export.parsing`` turns them
into the contract's types and ``features.export.validation`` judges them.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

TABLE_NAMES: tuple[str, ...] = ("patients", "visits", "contacts", "campaign_members")
DUCKDB_SUFFIXES: tuple[str, ...] = (".duckdb", ".ddb", ".db")


class SourceError(ValueError):
    """The source cannot be read at all (missing folder, no visits table, ambiguous files)."""


def describe(source: str | Path) -> str:
    """A short, log-safe description of a source (no credentials)."""
    text = str(source)
    if "://" in text:
        from sqlalchemy.engine import make_url

        return make_url(text).render_as_string(hide_password=True)
    return text


def read_source(source: str | Path, schema: str | None = None) -> dict[str, pd.DataFrame]:
    """Read every contract table the source holds.

    Args:
        source: a folder of ``.csv``/``.parquet`` files, a DuckDB file, or a SQLAlchemy URL.
        schema: database schema for SQLAlchemy sources (default: the connection's default).

    Returns:
        ``{table: frame}`` for the tables present; ``visits`` is always among them.
    """
    text = str(source)
    if "://" in text:
        tables = _read_sqlalchemy(text, schema)
    else:
        path = Path(source)
        if path.is_dir():
            tables = _read_folder(path)
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
    return {name: _normalise_columns(frame) for name, frame in tables.items()}


def _normalise_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Lower-case, stripped column names; a fresh 0..n-1 index (row numbers come from it)."""
    out = frame.rename(columns=lambda c: str(c).strip().lower())
    return out.reset_index(drop=True)


def _read_folder(folder: Path) -> dict[str, pd.DataFrame]:
    tables: dict[str, pd.DataFrame] = {}
    for name in TABLE_NAMES:
        found = [p for p in (folder / f"{name}.csv", folder / f"{name}.parquet") if p.exists()]
        if len(found) > 1:
            raise SourceError(f"{folder}: both {name}.csv and {name}.parquet exist; keep one")
        if not found:
            continue
        path = found[0]
        if path.suffix == ".csv":
            # Everything as text: parsing and its errors belong to the validator, and an
            # empty cell means "unknown" (contract), never the string "nan".
            tables[name] = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
        else:
            tables[name] = pd.read_parquet(path)
    return tables


def _read_duckdb(path: Path) -> dict[str, pd.DataFrame]:
    import duckdb

    with duckdb.connect(str(path), read_only=True) as con:
        present = {
            r[0].lower()
            for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
        return {
            name: con.execute(f'SELECT * FROM "{name}"').df()
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
