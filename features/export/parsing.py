"""Turn raw export values into the contract's types, remembering what could not be parsed.

Parsing never raises: a value that does not parse becomes missing, and the returned mask says
where that happened so the validator can name the rows. Accepts text (CSV) and already typed
values (Parquet, DuckDB, PostgreSQL) alike, so every container ends in the same ``Tables``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

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


@dataclass(frozen=True)
class ParsedTable:
    """A table in contract types plus where the raw values were present / unparseable.

    Attributes:
        frame: the contract columns the source had, in contract dtypes (unparseable -> missing).
        present: per column, True where the raw cell held a value.
        unparseable: per column, True where a raw value was present but did not parse.
        raw: the source's values, for messages and the rejects file.
    """

    frame: pd.DataFrame
    present: pd.DataFrame
    unparseable: pd.DataFrame
    raw: pd.DataFrame


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


def parse_table(raw: pd.DataFrame, table: str) -> ParsedTable:
    """Parse the contract columns present in ``raw`` (other columns are ignored)."""
    dtypes = TABLE_DTYPES[table]
    cols = [c for c in dtypes if c in raw.columns]
    frame: dict[str, pd.Series] = {}
    present: dict[str, pd.Series] = {}
    bad: dict[str, pd.Series] = {}
    for col in cols:
        values = raw[col]
        has = is_present(values)
        dtype = dtypes[col]
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
        frame[col] = parsed
        present[col] = has
        bad[col] = has & parsed.isna().to_numpy(bool)
    index = raw.index
    return ParsedTable(
        frame=pd.DataFrame(frame, index=index),
        present=pd.DataFrame(present, index=index),
        unparseable=pd.DataFrame(bad, index=index),
        raw=raw,
    )
