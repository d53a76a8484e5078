"""Connecting to the outcome database, and the store's time encoding.

SQLite gets WAL, ``synchronous=FULL`` and transactions that take the write lock up front
(``BEGIN IMMEDIATE``); other databases (PostgreSQL) are used as SQLAlchemy opens them. Times
travel as integer microseconds of clinic local naive time (see ``features.outcomes.schema``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa


def to_micros(values: pd.Series) -> list[int | None]:
    """Naive ``datetime64`` values -> microseconds since the epoch (None where missing)."""
    ts = pd.to_datetime(values).to_numpy().astype("datetime64[ns]")
    micros = (ts.astype("int64") // 1000).astype(object)
    micros[np.isnat(ts)] = None
    return micros.tolist()


def from_micros(values: pd.Series) -> pd.Series:
    """Microseconds since the epoch (nullable) -> naive ``datetime64[ns]``."""
    numbers = pd.to_numeric(values, errors="coerce").astype("Float64")
    nanos = (numbers * 1000).astype("Int64")
    return pd.to_datetime(nanos, unit="ns").astype("datetime64[ns]")


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001 - DBAPI objects
    # Autocommit at the driver level: SQLAlchemy's "begin" hook below issues the BEGIN, so
    # each transaction takes the write lock up front (no lost update between the duplicate
    # lookup and the insert of two concurrent writers).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(connection) -> None:  # noqa: ANN001 - SQLAlchemy connection
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str) -> sa.Engine:
    """An engine for ``url``; SQLite gets WAL, ``synchronous=FULL`` and eager write locks."""
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        sa.event.listen(engine, "begin", _sqlite_begin)
        return engine
    return sa.create_engine(url, pool_pre_ping=True)
