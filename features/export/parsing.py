"""Turn raw export values into the contract's types, remembering what could not be parsed.

Parsing never raises: a value that does not parse becomes missing, and the returned mask says
where that happened so the validator can name the rows. Accepts text (CSV) and already typed
values (Parquet, DuckDB, PostgreSQL) alike, so every container ends in the same ``Tables``.

Why two paths: text columns (every CSV column, most Parquet ones) are parsed with Arrow's
vectorised kernels — trimming, presence, enum and boolean words, and strict ISO 8601 / number
casts run in C++ over whole columns, never per cell in Python (the pandas ``str.strip`` per
cell was 58% of a 200,000-patient load). Values in the common shapes (``2024-01-05``,
``2024-01-05T10:00:00``, ``350.5``) go through Arrow's strict casts; the few text values in any
other shape (time zones, fractions of seconds, ``1e3``...) are handed to pandas' own parsers,
so what is accepted and what is refused stays exactly what it was. Typed columns (real
timestamps, numbers, booleans from Parquet or a database) keep the pandas functions below,
which are vectorised for such dtypes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.export.tables import TABLE_DTYPES
from features.vocabulary import ARMS, CHANNELS, VISIT_STATUSES

TRUE_WORDS = frozenset({"true", "1", "yes", "t", "y"})
FALSE_WORDS = frozenset({"false", "0", "no", "f", "n"})
ENUMS: dict[tuple[str, str], tuple[str, ...]] = {
    ("visits", "status"): VISIT_STATUSES,
    ("contacts", "channel"): CHANNELS,
    ("campaign_members", "arm"): ARMS,
    ("campaign_members", "channel"): CHANNELS,
}
# Text shapes Arrow's strict casts parse exactly as pandas does; anything else goes to pandas.
PLAIN_TIMESTAMP = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}:\d{2})?$"
PLAIN_NUMBER = r"^[+-]?(\d+(\.\d*)?|\.\d+)$"
# pandas' datetime64[ns] range: a date outside it does not parse (as before).
_NS_MIN = pd.Timestamp.min.value // 10**9 + 1
_NS_MAX = pd.Timestamp.max.value // 10**9


@dataclass(frozen=True)
class ParsedTable:
    """A table in contract types plus where the raw values were present / unparseable.

    Attributes:
        frame: the contract columns the source had, in contract dtypes (unparseable -> missing).
        present: per column, True where the raw cell held a value.
        unparseable: per column, True where a raw value was present but did not parse.
        raw: the source's values as an Arrow table, for messages and the rejects file
            (only the rows named there are ever converted to Python values).
        text: trimmed Arrow values of the text-typed contract columns that came as text
            (keys and patient ids), so uniqueness and membership run on Arrow's hashing.
    """

    frame: pd.DataFrame
    present: pd.DataFrame
    unparseable: pd.DataFrame
    raw: pa.Table
    text: dict[str, pa.ChunkedArray] = field(default_factory=dict)


def is_text(column: pa.ChunkedArray | pa.Array) -> bool:
    """True for Arrow string columns (the CSV path), whatever their offset width."""
    t = column.type
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


# --- typed values (pandas Series from Parquet or database columns) -------------------------


def is_present(raw: pd.Series) -> pd.Series:
    """True where a raw cell holds a value (not null, not blank text)."""
    present = raw.notna()
    if raw.dtype == object or pd.api.types.is_string_dtype(raw):
        present &= raw.astype(str).str.strip().ne("")
    return present.astype(bool)


def parse_timestamp(raw: pd.Series) -> pd.Series:
    """ISO 8601 dates or timestamps -> naive datetime64[ns]; a date alone means midnight."""
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        return raw.dt.tz_localize(None).astype("datetime64[ns]")
    if pd.api.types.is_datetime64_any_dtype(raw):
        return raw.astype("datetime64[ns]")
    text = raw.astype("string").str.strip()
    parsed = pd.to_datetime(text, format="ISO8601", errors="coerce")
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        parsed = parsed.dt.tz_localize(None)
    return parsed.astype("datetime64[ns]")


def parse_bool(raw: pd.Series) -> pd.Series:
    """true/false, 1/0, yes/no, t/f in any case -> nullable boolean."""
    if pd.api.types.is_bool_dtype(raw):
        return raw.astype("boolean")
    text = raw.astype("string").str.strip().str.lower()
    # Typed numeric sources give 1.0/0.0.
    text = text.replace({"1.0": "1", "0.0": "0"})
    out = pd.Series(pd.NA, index=raw.index, dtype="boolean")
    out[text.isin(TRUE_WORDS).fillna(False).to_numpy(bool)] = True
    out[text.isin(FALSE_WORDS).fillna(False).to_numpy(bool)] = False
    return out


def parse_float(raw: pd.Series) -> pd.Series:
    """Numbers -> float64."""
    return pd.to_numeric(raw, errors="coerce").astype("float64")


def parse_text(raw: pd.Series) -> pd.Series:
    """Any value -> str (object); integers stay without a decimal point."""
    out = raw.astype(object)
    if pd.api.types.is_float_dtype(raw):
        whole = raw.notna() & (raw == np.floor(raw))
        out = raw.astype(object)
        out[whole] = raw[whole].astype("int64").astype(str)
    mask = raw.notna()
    out = out.where(~mask, out.astype(str).str.strip())
    return out.where(mask, None)


def parse_enum(raw: pd.Series, allowed: tuple[str, ...]) -> pd.Series:
    """Case-insensitive enum -> lower-case str; unknown values become missing."""
    text = parse_text(raw)
    lowered = text.where(text.isna(), text.astype(str).str.lower())
    return lowered.where(lowered.isin(allowed), None)


def parse_series(values: pd.Series, table: str, col: str) -> tuple[pd.Series, pd.Series]:
    """Parse one typed column with the pandas functions: (parsed, present)."""
    has = is_present(values)
    dtype = TABLE_DTYPES[table][col]
    if (table, col) in ENUMS:
        parsed = parse_enum(values, ENUMS[(table, col)])
    elif dtype.startswith("datetime"):
        parsed = parse_timestamp(values)
    elif dtype == "boolean":
        parsed = parse_bool(values)
    elif dtype == "float64":
        parsed = parse_float(values)
    else:
        parsed = parse_text(values)
    parsed = parsed.where(has, None) if dtype == "object" else parsed.where(has)
    return parsed, has


# --- text values (Arrow string columns) ----------------------------------------------------


def _mask(values: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A boolean Arrow array as numpy, nulls as False."""
    return pc.fill_null(values, False).to_numpy(zero_copy_only=False).astype(bool, copy=False)


def _text_timestamp(trimmed: pa.ChunkedArray, present: np.ndarray) -> pd.Series:
    out = np.full(len(trimmed), np.datetime64("NaT"), dtype="datetime64[ns]")
    plain = _mask(pc.match_substring_regex(trimmed, PLAIN_TIMESTAMP)) & present
    idx = np.flatnonzero(plain)
    rest = present & ~plain
    try:
        seconds = pc.cast(trimmed.take(idx), pa.timestamp("s")).to_numpy().astype(np.int64)
    except pa.ArrowInvalid:  # an impossible date such as 2023-02-30: pandas decides those
        seconds, rest = None, present
    if seconds is not None:
        inside = (seconds >= _NS_MIN) & (seconds <= _NS_MAX)
        out[idx[inside]] = (seconds[inside] * 10**9).astype("datetime64[ns]")
    other = np.flatnonzero(rest)
    if len(other):
        text = pd.Series(trimmed.take(other).to_numpy(zero_copy_only=False), dtype=object)
        out[other] = parse_timestamp(text).to_numpy()
    return pd.Series(out)


def _text_float(trimmed: pa.ChunkedArray, present: np.ndarray) -> pd.Series:
    out = np.full(len(trimmed), np.nan)
    plain = _mask(pc.match_substring_regex(trimmed, PLAIN_NUMBER)) & present
    idx = np.flatnonzero(plain)
    out[idx] = pc.cast(trimmed.take(idx), pa.float64()).to_numpy()
    other = np.flatnonzero(present & ~plain)
    if len(other):
        text = pd.Series(trimmed.take(other).to_numpy(zero_copy_only=False), dtype=object)
        out[other] = parse_float(text).to_numpy()
    return pd.Series(out)


def _text_bool(trimmed: pa.ChunkedArray) -> pd.Series:
    lowered = pc.utf8_lower(trimmed)
    true = _mask(pc.is_in(lowered, pa.array(sorted(TRUE_WORDS | {"1.0"}))))
    false = _mask(pc.is_in(lowered, pa.array(sorted(FALSE_WORDS | {"0.0"}))))
    out = pd.array(np.where(true, True, False), dtype="boolean")
    out[~(true | false)] = pd.NA
    return pd.Series(out)


def _objects(values: pa.ChunkedArray) -> np.ndarray:
    """Python strings, one object per distinct value (ids repeat on every visit, services and
    statuses on millions of rows: deduplicating is what keeps pandas' memory close to Arrow's)."""
    return values.to_pandas(deduplicate_objects=True).to_numpy()


def parse_text_column(
    column: pa.ChunkedArray, table: str, col: str
) -> tuple[pd.Series, np.ndarray, np.ndarray, pa.ChunkedArray]:
    """Parse one Arrow string column into its contract dtype.

    Returns:
        ``(parsed, present, unparseable, trimmed)``: the parsed values, where a value was
        present, where a present value did not parse, and the trimmed text.
    """
    trimmed = pc.utf8_trim_whitespace(column)
    present = _mask(pc.greater(pc.utf8_length(trimmed), 0))
    dtype = TABLE_DTYPES[table][col]
    if (table, col) in ENUMS:
        lowered = pc.utf8_lower(trimmed)
        known = _mask(pc.is_in(lowered, pa.array(ENUMS[(table, col)])))
        parsed = pd.Series(_objects(lowered), dtype=object).where(known, None)
        return parsed, present, present & ~known, trimmed
    if dtype.startswith("datetime"):
        parsed = _text_timestamp(trimmed, present)
    elif dtype == "boolean":
        parsed = _text_bool(trimmed)
    elif dtype == "float64":
        parsed = _text_float(trimmed, present)
    else:  # free text and ids: a present value always parses
        values = _objects(trimmed)
        values[~present] = None
        return pd.Series(values, dtype=object), present, np.zeros(len(present), bool), trimmed
    return parsed, present, present & parsed.isna().to_numpy(bool), trimmed


def parse_table(raw: pa.Table, table: str) -> ParsedTable:
    """Parse the contract columns present in ``raw`` (other columns are ignored)."""
    cols = [c for c in TABLE_DTYPES[table] if c in raw.column_names]
    frame: dict[str, pd.Series] = {}
    present: dict[str, np.ndarray] = {}
    bad: dict[str, np.ndarray] = {}
    text: dict[str, pa.ChunkedArray] = {}
    index = pd.RangeIndex(raw.num_rows)
    for col in cols:
        column = raw.column(col)
        if is_text(column):
            parsed, has, bad[col], trimmed = parse_text_column(column, table, col)
            if TABLE_DTYPES[table][col] == "object":
                text[col] = pc.if_else(pa.array(has), trimmed, pa.scalar(None, trimmed.type))
        else:
            parsed, has_series = parse_series(column.to_pandas(), table, col)
            has = has_series.to_numpy(bool)
            bad[col] = has & parsed.isna().to_numpy(bool)
        parsed.index = index
        frame[col] = parsed
        present[col] = has
    return ParsedTable(
        frame=pd.DataFrame(frame, index=index),
        present=pd.DataFrame(present, index=index),
        unparseable=pd.DataFrame(bad, index=index),
        raw=raw,
        text=text,
    )


def raw_rows(raw: pa.Table, rows: list[int], columns: list[str] | None = None) -> pd.DataFrame:
    """The source values of a few rows (0-based positions) as an object frame indexed by row."""
    part = raw.select(columns) if columns is not None else raw
    frame = part.take(pa.array(rows, type=pa.int64())).to_pandas().astype(object)
    frame.index = pd.Index(rows)
    return frame.where(frame.notna(), np.nan)
