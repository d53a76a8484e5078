"""Reading the raw values of posted outcome events, one column of a batch at a time.

``features.outcomes.events`` checks a batch column by column; this module turns one column
of raw values (JSON values, or cells of an imported file) into normalised numpy arrays plus
masks of what did not parse. The rules are those of a single value (``text``, ``local_time``,
``number``); the column functions give the very same answers but handle the common shapes
of a batch (plain strings, canonical ISO 8601 times, JSON numbers) with array operations and
send only the other values through the single-value rule.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

# Canonical ISO 8601 text both numpy and ``datetime.fromisoformat`` read to the same instant
# (day-of-month overflow such as 02-30 is left to the per-value rule, which refuses it).
_DATE = r"(?!0000)\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])"
_CLOCK = r"(?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,6})?)?"
NAIVE_ISO = rf"{_DATE}(?:[T ]{_CLOCK})?"
OFFSET_ISO = rf"{_DATE}[T ]{_CLOCK}(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)"
_NAIVE, _OFFSET = re.compile(NAIVE_ISO), re.compile(OFFSET_ISO)
_NAT = np.datetime64("NaT", "us")


def missing(value: object) -> bool:
    """True for an absent value: None, NaN, NaT, or a string of blanks."""
    if value is None:
        return True
    if type(value) is str:
        return not value.strip()
    if value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def text(value: object) -> str | None:
    """A value as stripped text (None when missing); ``17.0`` reads as ``"17"``."""
    if type(value) is str:  # the common case, first
        return value.strip() or None
    if missing(value):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def local_time(value: object, zone: ZoneInfo | None) -> dt.datetime | None:
    """One timestamp (ISO text or datetime) as local naive time; None when it does not parse."""
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, str):
        stripped = value.strip()
        try:
            value = dt.datetime.fromisoformat(stripped)
        except ValueError:
            try:
                value = pd.Timestamp(stripped).to_pydatetime()
            except (ValueError, TypeError):
                return None
    elif isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    if not isinstance(value, dt.datetime):
        return None
    if value.tzinfo is not None:
        value = (value.astimezone(zone) if zone else value.astimezone()).replace(tzinfo=None)
    return value


def _stripped(values: list) -> tuple[pd.Series, np.ndarray]:
    """The stripped strings of a column (NaN elsewhere) and where the values are strings."""
    series = pd.Series(values, dtype=object)
    try:
        stripped = series.str.strip()
    except AttributeError:  # not one string in the column
        stripped = pd.Series(np.nan, index=series.index, dtype=object)
    return stripped, stripped.notna().to_numpy(bool)


def _flags(matches: pd.Series) -> np.ndarray:
    return matches.to_numpy(dtype=bool, na_value=False)


def texts(values: list, lower: bool = False) -> np.ndarray:
    """Object array of :func:`text` of each value (lower-cased when asked)."""
    if {type(v) for v in values} <= _PLAIN_TEXT:  # JSON strings and nulls: no per-value rule
        if lower:
            cleaned = [None if v is None else v.strip().lower() for v in values]
        else:
            cleaned = [None if v is None else v.strip() for v in values]
        out = np.array(cleaned, dtype=object) if cleaned else np.zeros(0, dtype=object)
        out[out == ""] = None
        return out
    stripped, plain = _stripped(values)
    out = stripped.where(stripped.ne(""), None).to_numpy(dtype=object)
    out[~plain] = None
    for i in np.flatnonzero(~plain):
        if values[i] is not None:
            out[i] = text(values[i])
    if lower:
        present = np.flatnonzero(out != None)  # noqa: E711 - elementwise on objects
        if len(present):
            out[present] = pd.Series(out[present], dtype=object).str.lower().to_numpy(object)
    return out


_PLAIN_TEXT = frozenset({str, type(None)})


def missing_mask(values: list) -> np.ndarray:
    """:func:`missing` of each value."""
    return _missing_of(values, *_stripped(values))


def _missing_of(values: list, stripped: pd.Series, is_text: np.ndarray) -> np.ndarray:
    out = np.zeros(len(values), dtype=bool)
    out[is_text] = stripped[is_text].eq("").to_numpy()
    rest = np.flatnonzero(~is_text)
    out[rest] = [missing(values[i]) for i in rest]
    return out


def local_times(values: list, zone: ZoneInfo | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`local_time` of each value, as ``(datetime64[us] with NaT, missing, unreadable)``.

    Canonical ISO text is read by numpy in one call (with an offset: by pandas, then moved
    to the clinic's zone); every other value goes through :func:`local_time`.
    """
    n = len(values)
    if {type(v) for v in values} <= _PLAIN_TEXT:
        text_values = [None if v is None else v.strip() for v in values]
        absent = np.array([not v for v in text_values], dtype=bool)
        naive = np.array([v is not None and _NAIVE.fullmatch(v) is not None
                          for v in text_values], dtype=bool)
    else:
        stripped, is_text = _stripped(values)
        text_values = stripped.where(is_text, None).tolist()
        absent = _missing_of(values, stripped, is_text)
        naive = ~absent & is_text
        if naive.any():
            naive &= _flags(stripped.str.fullmatch(NAIVE_ISO))
    out = np.full(n, _NAT)
    todo = ~absent
    if naive.any():
        try:
            out[naive] = np.array([text_values[i] for i in np.flatnonzero(naive)],
                                  dtype="datetime64[us]")
            todo[naive] = False
        except ValueError:  # a day past the month's end: the per-value rule refuses it
            pass
    if zone is not None and todo.any():
        aware = np.zeros(n, dtype=bool)
        rows = np.flatnonzero(todo)
        aware[rows] = [type(text_values[i]) is str and _OFFSET.fullmatch(text_values[i])
                       is not None for i in rows]
        if aware.any():
            picked = pd.Series([text_values[i] for i in np.flatnonzero(aware)], dtype=object)
            parsed = pd.to_datetime(picked, format="ISO8601", utc=True, errors="coerce")
            ok = parsed.notna().to_numpy()
            local = parsed[ok].dt.tz_convert(zone).dt.tz_localize(None)
            rows = np.flatnonzero(aware)[ok]
            out[rows] = local.to_numpy().astype("datetime64[us]")
            todo[rows] = False
    bad = np.zeros(n, dtype=bool)
    for i in np.flatnonzero(todo):
        parsed = local_time(values[i], zone)
        if parsed is None:
            bad[i] = True
        else:
            out[i] = np.datetime64(parsed, "us")
    return out, absent, bad


_PLAIN_NUMBERS = (type(None), float, int)


def numbers(values: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each value as a float: ``(floats with NaN for missing, missing, not a number)``."""
    n = len(values)
    if {type(v) for v in values} <= set(_PLAIN_NUMBERS):  # JSON numbers and nulls
        out = np.array(values, dtype=float)
        absent = np.array([v is None for v in values], dtype=bool) | np.isnan(out)
        return out, absent, np.zeros(n, dtype=bool)
    out = np.full(n, np.nan)
    absent = np.zeros(n, dtype=bool)
    bad = np.zeros(n, dtype=bool)
    for i, value in enumerate(values):
        if missing(value):
            absent[i] = True
            continue
        try:
            out[i] = float(value)
        except (TypeError, ValueError):
            bad[i] = True
    return out, absent, bad


def iso_text(stamps: np.ndarray) -> np.ndarray:
    """``datetime.isoformat()`` of each datetime64 value (microseconds only when not 0)."""
    us = stamps.astype("datetime64[us]")
    whole = np.datetime_as_string(us, unit="s")
    fraction = us.view(np.int64) % 1_000_000 != 0
    if fraction.any():
        whole = whole.astype(object)
        whole[fraction] = np.datetime_as_string(us[fraction], unit="us")
    return whole.astype(object)
