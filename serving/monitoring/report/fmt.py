"""Number formatting for the manager report: every figure a manager reads goes through here.

One place decides how a share, an amount of money, a count or a duration looks, so the page
never shows ``0.4123`` or ``1234.5`` and a missing value always reads the same way.
"""

from __future__ import annotations

import math
from numbers import Real

import pandas as pd

UNKNOWN = "unknown"


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, Real) and math.isnan(float(value))) or value is pd.NA


def percent(value: float | None, digits: int = 0) -> str:
    """A share 0-1 as a percentage: ``0.123`` -> ``12%``; below 1% keeps one decimal."""
    if _missing(value):
        return UNKNOWN
    share = float(value) * 100
    if 0 < abs(share) < 1 and digits == 0:
        digits = 1
    return f"{share:.{digits}f}%"


def money(value: float | None, symbol: str = "$") -> str:
    """An amount: ``1234.5`` -> ``$1,235``; amounts under 100 keep cents (``$12.50``)."""
    if _missing(value):
        return UNKNOWN
    amount = float(value)
    sign = "-" if amount < 0 else ""
    text = f"{abs(amount):,.2f}" if abs(amount) < 100 else f"{abs(amount):,.0f}"
    return f"{sign}{symbol}{text}"


def count(value: float | None) -> str:
    """A whole number with thousands separators: ``12345`` -> ``12,345``."""
    if _missing(value):
        return UNKNOWN
    return f"{round(float(value)):,}"


def number(value: float | None, digits: int = 1) -> str:
    """A decimal number with separators: ``1234.56`` -> ``1,234.6``."""
    if _missing(value):
        return UNKNOWN
    return f"{float(value):,.{digits}f}"


def days(value: float | None) -> str:
    """A duration in days, with months once it is long enough to think in months."""
    if _missing(value):
        return UNKNOWN
    n = round(float(value))
    if abs(n) < 60:
        return f"{n:,} day" + ("" if abs(n) == 1 else "s")
    return f"{n:,} days (about {n / 30.44:.0f} months)"


def score(value: float | None) -> str:
    """A model quality number such as an AUC: two decimals (``0.734`` -> ``0.73``)."""
    if _missing(value):
        return UNKNOWN
    return f"{float(value):.2f}"


def chance(value: float | None) -> str:
    """A probability for people: ``0.42`` -> ``42%``; never a flat 0% or 100%."""
    if _missing(value):
        return UNKNOWN
    p = float(value)
    if p >= 0.995:
        return "over 99%"
    if 0 < p < 0.005:
        return "under 1%"
    return f"{p * 100:.0f}%"


def points(value: float | None) -> str:
    """A change of a chance, in percentage points: ``0.034`` -> ``+3.4 points``."""
    if _missing(value):
        return UNKNOWN
    p = float(value) * 100
    return f"{p:+.1f} points" if abs(p) >= 0.05 else "about 0 points"


def plain(text: str) -> str:
    """Analyst wording made plain: the feature spec says "as-of date", a manager says "now"."""
    text = text.replace(" to the as-of date", " until now").replace(
        " before the as-of date", " before now"
    )
    return text.replace("as-of date", "report date")
