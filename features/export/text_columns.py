"""Parse Arrow text columns (every CSV column, most Parquet ones) into the contract's types.

Why through a dictionary: an export repeats its values - a patient id on every visit, a
service or a status on millions of rows, a timestamp on every appointment of a slot. Each
column is dictionary-encoded once in Arrow (C++, hashing each cell once) and every rule -
trimming, presence, enum and boolean words, the strict ISO 8601 / number casts - runs on the
distinct values only; the results reach the rows through one numpy ``take`` of the codes.
Python strings are made once per distinct value, never per cell (at a million patients the
per-cell conversions and the full-column Arrow kernels were most of the load).

Values in the common shapes (``2024-01-05``, ``2024-01-05T10:00:00``, ``350.5``) go through
Arrow's strict casts; the few values in any other shape (time zones, fractions of seconds,
``1e3``...) are handed to pandas' own parsers (``features.export.values``), so what is
accepted and what is refused stays exactly what the per-cell pandas path accepted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.export.tables import KEYS, TABLE_DTYPES
from features.export.values import (
    ENUMS,
    FALSE_WORDS,
    NS_MAX,
    NS_MIN,
    PLAIN_NUMBER,
    PLAIN_TIMESTAMP,
    TRUE_WORDS,
    parse_float,
    parse_timestamp,
)


@dataclass(frozen=True)
class TextCodes:
    """A text column as integer codes into its distinct trimmed values.

    Attributes:
        codes: per row, the position of its trimmed value in ``values``; -1 where the row
            holds no value (empty, blank or missing).
        values: distinct trimmed values (possibly with an unused blank one).
    """

    codes: np.ndarray
    values: pa.Array

    def distinct_present(self) -> int:
        """How many distinct values the rows hold."""
        used = np.zeros(len(self.values) + 1, bool)
        used[self.codes] = True  # code -1 marks the extra last slot
        return int(used[:-1].sum())

    def duplicated(self) -> np.ndarray:
        """True on every repeat of a present value after its first row."""
        present = self.codes >= 0
        if self.distinct_present() == int(present.sum()):
            return np.zeros(len(self.codes), bool)
        return present & pd.Series(self.codes).duplicated(keep="first").to_numpy()


@dataclass(frozen=True)
class KeyText:
    """A row key (``visit_id``, ``contact_id``) as trimmed text, null where no value.

    Why not :class:`TextCodes`: a row key is expected to differ on every row, so encoding it
    would build a dictionary as large as the column (3 s of hashing at ten million visits).
    Uniqueness is proved by counting distinct 64-bit hashes in DuckDB (two threads; distinct
    hashes mean distinct values); only when hashes repeat are the keys encoded exactly.
    """

    text: pa.ChunkedArray

    def duplicated(self) -> np.ndarray:
        """True on every repeat of a present key after its first row."""
        present = self.text.length() - self.text.null_count
        if present == 0 or _distinct_hashes(self.text) == present:
            return np.zeros(len(self.text), bool)
        rows, values = codes_and_dictionary(encode(self.text))
        return TextCodes(rows, values).duplicated()


def _distinct_hashes(text: pa.ChunkedArray) -> int:
    import duckdb

    with duckdb.connect() as con:
        con.register("keys", pa.table({"k": text}))
        found = con.execute("SELECT count(DISTINCT hash(k)) FROM keys WHERE k IS NOT NULL")
        return int(found.fetchone()[0])


def is_text(column: pa.ChunkedArray | pa.Array) -> bool:
    """True for Arrow string columns (the CSV path), whatever their offset width."""
    t = column.type
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def _mask(values: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A boolean Arrow array as numpy, nulls as False."""
    return pc.fill_null(values, False).to_numpy(zero_copy_only=False).astype(bool, copy=False)


def encode(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """The column dictionary-encoded, every chunk sharing one dictionary (nulls stay null)."""
    encoded = pc.dictionary_encode(column)
    chunks = encoded.chunks
    if not chunks:
        return pa.chunked_array([pa.DictionaryArray.from_arrays(
            pa.array([], pa.int32()), pa.array([], column.type))])
    if any(c.dictionary is not chunks[0].dictionary and not c.dictionary.equals(
            chunks[0].dictionary) for c in chunks[1:]):
        encoded = encoded.unify_dictionaries()
    return encoded


def codes_and_dictionary(encoded: pa.ChunkedArray) -> tuple[np.ndarray, pa.Array]:
    """Row codes (int32, -1 for null) and the shared dictionary of an :func:`encode` result."""
    dictionary = encoded.chunks[0].dictionary
    parts = [c.indices.fill_null(-1).to_numpy(zero_copy_only=False) for c in encoded.chunks]
    codes = np.concatenate(parts) if len(parts) != 1 else parts[0]
    return codes.astype(np.int32, copy=False), dictionary


def _text_timestamp(trimmed: pa.Array, present: np.ndarray) -> np.ndarray:
    out = np.full(len(trimmed), np.datetime64("NaT"), dtype="datetime64[ns]")
    plain = _mask(pc.match_substring_regex(trimmed, PLAIN_TIMESTAMP)) & present
    idx = np.flatnonzero(plain)
    rest = present & ~plain
    try:
        seconds = pc.cast(trimmed.take(idx), pa.timestamp("s")).to_numpy().astype(np.int64)
    except pa.ArrowInvalid:  # an impossible date such as 2023-02-30: pandas decides those
        seconds, rest = None, present
    if seconds is not None:
        inside = (seconds >= NS_MIN) & (seconds <= NS_MAX)
        out[idx[inside]] = (seconds[inside] * 10**9).astype("datetime64[ns]")
    other = np.flatnonzero(rest)
    if len(other):
        text = pd.Series(trimmed.take(other).to_numpy(zero_copy_only=False), dtype=object)
        out[other] = parse_timestamp(text).to_numpy()
    return out


def _text_float(trimmed: pa.Array, present: np.ndarray) -> np.ndarray:
    out = np.full(len(trimmed), np.nan)
    plain = _mask(pc.match_substring_regex(trimmed, PLAIN_NUMBER)) & present
    idx = np.flatnonzero(plain)
    out[idx] = pc.cast(trimmed.take(idx), pa.float64()).to_numpy()
    other = np.flatnonzero(present & ~plain)
    if len(other):
        text = pd.Series(trimmed.take(other).to_numpy(zero_copy_only=False), dtype=object)
        out[other] = parse_float(text).to_numpy()
    return out


def _text_bool(trimmed: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(value, known) per distinct value."""
    lowered = pc.utf8_lower(trimmed)
    true = _mask(pc.is_in(lowered, pa.array(sorted(TRUE_WORDS | {"1.0"}))))
    false = _mask(pc.is_in(lowered, pa.array(sorted(FALSE_WORDS | {"0.0"}))))
    return true, true | false


def _objects(values: pa.Array, keep: np.ndarray) -> np.ndarray:
    """Python strings of the distinct values (None where ``keep`` is False), plus a final
    None that row code -1 picks."""
    out = np.empty(len(values) + 1, dtype=object)
    out[:-1] = values.to_numpy(zero_copy_only=False)
    out[:-1][~keep] = None
    return out


def parse_text_column(
    column: pa.ChunkedArray, table: str, col: str
) -> tuple[pd.Series, np.ndarray, np.ndarray, pa.ChunkedArray, TextCodes | KeyText | None]:
    """Parse one Arrow string column into its contract dtype.

    Returns:
        ``(parsed, present, unparseable, stored, codes)``: the parsed values, where a value
        was present, where a present value did not parse, the raw column as kept for the
        rejects file and messages (dictionary-encoded unless a row key), and - for
        text-typed contract columns - the rows' codes (:class:`TextCodes`, or
        :class:`KeyText` for a row key; for an enum, codes into its allowed words).
    """
    if col == KEYS.get(table) and table != "patients":  # patients' ids are looked up too
        return _parse_row_key(column)
    encoded = encode(column)
    rows, dictionary = codes_and_dictionary(encoded)
    trimmed = pc.utf8_trim_whitespace(dictionary)
    has = np.append(_mask(pc.greater(pc.binary_length(trimmed), 0)), False)
    present = has[rows]
    dtype = TABLE_DTYPES[table][col]
    codes = None
    if (table, col) in ENUMS:
        lowered = pc.utf8_lower(trimmed)
        allowed = pa.array(ENUMS[(table, col)])
        position = np.append(pc.index_in(lowered, value_set=allowed).fill_null(-1).to_numpy(
            zero_copy_only=False), -1).astype(np.int32)
        parsed = pd.Series(_objects(lowered, position[:-1] >= 0)[rows], dtype=object)
        codes = TextCodes(position[rows], allowed)
        bad = present & (codes.codes < 0)
    elif dtype.startswith("datetime"):
        values = np.append(_text_timestamp(trimmed, has[:-1]), np.datetime64("NaT", "ns"))
        parsed = pd.Series(values[rows])
        bad = present & np.isnat(parsed.to_numpy())
    elif dtype == "float64":
        values = np.append(_text_float(trimmed, has[:-1]), np.nan)
        parsed = pd.Series(values[rows])
        bad = present & np.isnan(parsed.to_numpy())
    elif dtype == "boolean":
        value, known = (np.append(a, False) for a in _text_bool(trimmed))
        parsed = pd.Series(pd.arrays.BooleanArray(value[rows], ~known[rows]))
        bad = present & ~known[rows]
    else:  # free text and ids: a present value always parses
        parsed = pd.Series(_objects(trimmed, has[:-1])[rows], dtype=object)
        bad = np.zeros(len(rows), bool)
        codes = _distinct_codes(rows, dictionary, trimmed, has[:-1])
    return parsed, present, bad, encoded, codes


def _parse_row_key(column: pa.ChunkedArray) -> tuple:
    """A row key without a dictionary: trimmed per cell, kept as Arrow text (the contract's
    ``ROW_KEY_DTYPE``, sharing the source's buffer when nothing needed trimming)."""
    trimmed = pc.utf8_trim_whitespace(column)
    if _bytes(trimmed) == _bytes(column):
        trimmed = column  # nothing to trim: keep one copy of the text
    present = _mask(pc.greater(pc.binary_length(trimmed), 0))
    text = trimmed if present.all() else pc.if_else(
        pa.array(present), trimmed, pa.scalar(None, trimmed.type))
    if not pa.types.is_string(text.type) and not pa.types.is_large_string(text.type):
        text = text.cast(pa.large_string())
    parsed = pd.Series(pd.arrays.ArrowStringArray(text))  # ROW_KEY_DTYPE, no copy
    return parsed, present, np.zeros(len(present), bool), column, KeyText(text)


def _distinct_codes(rows: np.ndarray, dictionary: pa.Array, trimmed: pa.Array,
                    has: np.ndarray) -> TextCodes:
    """Codes of the rows into distinct trimmed values.

    The raw dictionary is distinct; trimming can only merge values when it changed one, so
    the trimmed dictionary is encoded again only then (a rare padded export).
    """
    if _bytes(trimmed) == _bytes(dictionary):
        mapping, values = np.arange(len(trimmed), dtype=np.int32), trimmed
    else:
        mapping, values = codes_and_dictionary(encode(pa.chunked_array([trimmed])))
    mapping = np.append(np.where(has, mapping, -1), -1).astype(np.int32)
    return TextCodes(mapping[rows], values)


def _bytes(values: pa.Array | pa.ChunkedArray) -> int:
    return int(pc.sum(pc.binary_length(values)).as_py() or 0)
