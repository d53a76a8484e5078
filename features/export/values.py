"""The contract's value rules, and the pandas parsers of already typed columns.

What a boolean word, an enum value or a plain timestamp is, written once: the Arrow path for
text columns (``features.export.text_columns``) and the pandas path here share these
constants, and the Arrow path hands the few text values in unusual shapes (time zones,
fractions of seconds, ``1e3``...) to the pandas parsers below, so what is accepted and what
is refused is the same whichever container the export came in. Typed columns (real
timestamps, numbers, booleans from Parquet or a database) are parsed here: these functions
are vectorised for such dtypes. Parsing never raises: a value that does not parse becomes
missing.
"""

from __future__ import annotations

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
# Text shapes Arrow's strict casts parse exactly as pandas does; anything else goes to pandas.
PLAIN_TIMESTAMP = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}:\d{2})?$"
PLAIN_NUMBER = r"^[+-]?(\d+(\.\d*)?|\.\d+)$"
# pandas' datetime64[ns] range: a date outside it does not parse (as before).
NS_MIN = pd.Timestamp.min.value // 10**9 + 1
NS_MAX = pd.Timestamp.max.value // 10**9


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
