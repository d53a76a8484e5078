"""Vectorised plain-language pieces: durations, intervals, counts, money, shares.

Each helper maps a numeric Series to a Series of short phrases that front-desk staff read
without thinking ("8 months", "every 3-4 months", "2 texts", "$1,250", "40%"). They work on
whole columns at once so explaining a page of patients costs a few pandas operations.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DAYS_PER_MONTH = 30.44

# What a channel is called where a person reads it (the report, never the raw value).
CHANNEL_WORDS: dict[str, str] = {
    "sms": "text",
    "email": "email",
    "phone": "phone call",
    "mail": "letter",
    "none": "no channel",
}

CHANNEL_NOUNS: dict[str, tuple[str, str]] = {
    "sms": ("text", "texts"),
    "email": ("email", "emails"),
    "phone": ("call", "calls"),
    "mail": ("letter", "letters"),
}


def channel_word(channel: object) -> str:
    """A channel as a person says it ("text", "phone call"); unknown values: "no channel"."""
    return CHANNEL_WORDS.get(str(channel), CHANNEL_WORDS["none"])


def _num(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values, errors="coerce").astype(float)


def _as_text(values: np.ndarray | pd.Series, index: pd.Index) -> pd.Series:
    return pd.Series(np.asarray(values, dtype=object), index=index).astype(str)


def plural(counts: pd.Series, singular: str, plural_form: str | None = None) -> pd.Series:
    """``"1 visit"``, ``"3 visits"`` (counts rounded to whole numbers)."""
    n = _num(counts).fillna(0).round().astype(np.int64)
    word = np.where(n == 1, singular, plural_form or f"{singular}s")
    number = _as_text(np.where(n == 0, "no", n.astype(str)), counts.index)
    return number + " " + _as_text(word, counts.index)


def duration(days: pd.Series) -> pd.Series:
    """A span of days in the unit people use: days, weeks, months or years."""
    d = _num(days).clip(lower=0).fillna(0)
    weeks = (d / 7).round().astype(np.int64)
    months = (d / DAYS_PER_MONTH).round().astype(np.int64)
    years = (d / 365.25 * 2).round() / 2
    year_text = years.map(lambda y: f"{y:g}")  # 1, 1.5, 2 ... (one short string per row)
    choices = [
        d.round().astype(np.int64).astype(str) + np.where(d.round() == 1, " day", " days"),
        weeks.astype(str) + np.where(weeks == 1, " week", " weeks"),
        months.astype(str) + np.where(months == 1, " month", " months"),
        year_text + np.where(years == 1, " year", " years"),
    ]
    picked = np.select([d < 14, d < 61, d < 730], choices[:3], choices[3])
    return _as_text(picked, days.index)


def every(days: pd.Series) -> pd.Series:
    """A typical interval as "every 5-6 weeks", "every 3-4 months" or "every 2 years"."""
    d = _num(days).clip(lower=1).fillna(1)
    weeks, months, years = d / 7, d / DAYS_PER_MONTH, d / 365.25

    def span(value: pd.Series, unit: str) -> pd.Series:
        low, high = np.floor(value).clip(lower=1), np.ceil(value).clip(lower=1)
        near = (value - value.round()).abs() < 0.2
        single = value.round().clip(lower=1).astype(np.int64).astype(str)
        ranged = low.astype(np.int64).astype(str) + "-" + high.astype(np.int64).astype(str)
        text = np.where(near | (low == high), single, ranged)
        return "every " + _as_text(text, value.index) + f" {unit}"

    picked = np.select(
        [weeks < 9, months < 24],
        [span(weeks, "weeks"), span(months, "months")],
        span(years, "years"),
    )
    text = _as_text(picked, days.index)
    return text.str.replace(r"^every 1 (week|month|year)s$", r"every \1", regex=True)


def money(amounts: pd.Series) -> pd.Series:
    """Whole currency amounts with thousands separators (the clinic's currency)."""
    a = _num(amounts).fillna(0).round().astype(np.int64)
    return a.map("{:,}".format)


def share(values: pd.Series) -> pd.Series:
    """A 0-1 share as a whole percentage."""
    return (_num(values).fillna(0) * 100).round().astype(np.int64).astype(str) + "%"


def label(values: pd.Series, fallback: str) -> pd.Series:
    """Category labels as text, ``fallback`` where missing."""
    text = values.astype(object).where(values.notna(), fallback)
    return text.astype(str).str.replace("_", " ")


def choose(condition: pd.Series | np.ndarray, yes: pd.Series, no: pd.Series) -> pd.Series:
    """Row-wise pick between two phrase Series."""
    return _as_text(np.where(np.asarray(condition, dtype=bool), yes, no), yes.index)
