"""Turn raw export values into the contract's types, remembering what could not be parsed.

Parsing never raises: a value that does not parse becomes missing, and the returned masks say
where that happened so the validator can name the rows. Accepts text (CSV) and already typed
values (Parquet, DuckDB, PostgreSQL) alike, so every container ends in the same ``Tables``.

Two paths, one result: text columns go through Arrow dictionary encoding
(``features.export.text_columns``: every rule runs once per distinct value), typed columns
through the pandas parsers of ``features.export.values``. A test keeps both paths identical
to the per-cell pandas parsing they replaced.

Why frames are built without consolidation: pandas copies every column of a new frame into
one two-dimensional block per dtype unless told not to; at ten million visits those copies
were a third of the load.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.export.tables import TABLE_DTYPES
from features.export.text_columns import KeyText, TextCodes, is_text, parse_text_column
from features.export.values import (  # noqa: F401 - the parsers' public names live here too
    ENUMS,
    FALSE_WORDS,
    PLAIN_NUMBER,
    PLAIN_TIMESTAMP,
    TRUE_WORDS,
    is_present,
    parse_bool,
    parse_enum,
    parse_float,
    parse_series,
    parse_text,
    parse_timestamp,
)

# Columns parsed at once: Arrow's kernels release the GIL, so two columns use two cores.
PARSE_THREADS = 2


@dataclass(frozen=True)
class ParsedTable:
    """A table in contract types plus where the raw values were present / unparseable.

    Attributes:
        frame: the contract columns the source had, in contract dtypes (unparseable -> missing).
        present: per column, True where the raw cell held a value.
        unparseable: per column, True where a raw value was present but did not parse.
        raw: the source's values as an Arrow table, for messages and the rejects file (text
            columns dictionary-encoded; only the rows named there are ever decoded).
        codes: for the text-typed contract columns that came as text (ids, keys, free
            text), the rows' codes into their distinct trimmed values, so uniqueness and
            membership rules hash each distinct value once; for enums that came as text,
            codes into the allowed words.
    """

    frame: pd.DataFrame
    present: pd.DataFrame
    unparseable: pd.DataFrame
    raw: pa.Table
    codes: dict[str, TextCodes | KeyText] = field(default_factory=dict)

    def holds(self, col: str, word: str) -> np.ndarray:
        """Where the enum column ``col`` holds ``word`` (a numpy mask; codes when text)."""
        coded = self.codes.get(col)
        if isinstance(coded, TextCodes):
            return coded.codes == coded.values.to_pylist().index(word)
        return self.frame[col].eq(word).to_numpy(bool)


def _parse_column(raw: pa.Table, table: str, col: str) -> tuple:
    column = raw.column(col)
    if is_text(column):
        return parse_text_column(column, table, col)
    parsed, has_series = parse_series(column.to_pandas(), table, col)
    has = has_series.to_numpy(bool)
    return parsed, has, has & parsed.isna().to_numpy(bool), column, None


def parse_table(raw: pa.Table, table: str) -> ParsedTable:
    """Parse the contract columns present in ``raw`` (other columns are kept raw, ignored)."""
    cols = [c for c in TABLE_DTYPES[table] if c in raw.column_names]
    with ThreadPoolExecutor(max_workers=PARSE_THREADS) as pool:
        results = dict(zip(cols, pool.map(lambda c: _parse_column(raw, table, c), cols),
                           strict=True))
    index = pd.RangeIndex(raw.num_rows)
    frame: dict[str, pd.Series] = {}
    present: dict[str, np.ndarray] = {}
    bad: dict[str, np.ndarray] = {}
    codes: dict[str, TextCodes | KeyText] = {}
    stored: dict[str, pa.ChunkedArray] = {}
    for col, (parsed, has, unparseable, column, text_codes) in results.items():
        parsed.index = index
        frame[col], present[col], bad[col], stored[col] = parsed, has, unparseable, column
        if text_codes is not None:
            codes[col] = text_codes
    columns = list(raw.columns)
    for col, column in stored.items():
        columns[raw.column_names.index(col)] = column
    kept = pa.Table.from_arrays(columns, names=raw.column_names)
    return ParsedTable(
        frame=pd.DataFrame(frame, index=index, copy=False),
        present=pd.DataFrame(present, index=index, copy=False),
        unparseable=pd.DataFrame(bad, index=index, copy=False),
        raw=kept,
        codes=codes,
    )


def raw_rows(raw: pa.Table, rows: list[int], columns: list[str] | None = None) -> pd.DataFrame:
    """The source values of a few rows (0-based positions) as an object frame indexed by row."""
    part = raw.select(columns) if columns is not None else raw
    part = part.take(pa.array(rows, type=pa.int64()))
    part = pa.Table.from_arrays(
        [pc.cast(c, c.type.value_type) if pa.types.is_dictionary(c.type) else c
         for c in part.columns], names=part.column_names)
    frame = part.to_pandas().astype(object)
    frame.index = pd.Index(rows)
    return frame.where(frame.notna(), np.nan)
