"""Vectorised per-group primitives on integer codes, shared by the feature families.

Why not ``groupby``: at a million patients and ten million visits, hashing string ids and
multi-key sorts dominate. Here ids become integer codes once, multi-key sorts become one
argsort of a mixed-radix int64 key (``np.lexsort`` is several times slower), and per-patient
sums, counts and "last row" picks are ``np.bincount`` and run boundaries on sorted arrays.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

_KEY_LIMIT = 2**62


def ids_to_codes(values: pd.Series | np.ndarray, ids: pd.Index) -> np.ndarray:
    """Position of each value in ``ids`` (-1 when absent or missing).

    One lookup per row in the hash table of ``ids`` (unique): half the time of factorizing
    the values first (ten million visit ids: about a second less), and a missing value can
    never borrow the code of another.
    """
    return ids.get_indexer(np.asarray(values, dtype=object)).astype(np.int64, copy=False)


def codes_in(values: pd.Series, labels: Sequence[str], missing: int = -1) -> np.ndarray:
    """Position of each value in the short list ``labels``; ``missing`` for empty values and
    -1 for values not in the list. One hash pass over the column."""
    codes, uniques = pd.factorize(values)
    lookup = np.append(pd.Index(labels).get_indexer(uniques), missing).astype(np.int64)
    return lookup[codes]


def codes_of(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes in sorted-label order (-1 = missing) and the labels as an object array."""
    codes, labels = pd.factorize(values, sort=True)
    return codes.astype(np.int64, copy=False), np.asarray(labels, dtype=object)


def labels_at(labels: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Object array of labels for ``codes``; code -1 gives None."""
    padded = np.append(np.asarray(labels, dtype=object), None)
    return padded[np.where(codes >= 0, codes, len(labels))]


def time_ordinals(*stamps: np.ndarray) -> tuple[list[np.ndarray], int]:
    """Order-preserving small integers for datetime64 arrays (no NaT), on a common scale.

    Returns one int64 array per input and the number of distinct ordinals (the radix for
    :func:`order_by`). Uses the coarsest exact unit (minute, second, ...), else ranks.
    """
    ints = [s.view(np.int64) for s in stamps]
    nonempty = [a for a in ints if len(a)]
    if not nonempty:
        return [a.copy() for a in ints], 1
    base = min(int(a.min()) for a in nonempty)
    top = max(int(a.max()) for a in nonempty)
    for unit in (60 * 10**9, 10**9, 10**6, 1):
        if all(not ((a - base) % unit).any() for a in nonempty):
            break
    span = (top - base) // unit + 1
    if span < 2**40:
        return [(a - base) // unit for a in ints], int(span)
    uniques, inverse = np.unique(np.concatenate(ints), return_inverse=True)
    bounds = np.cumsum([0, *map(len, ints)])
    return [inverse[bounds[i]:bounds[i + 1]] for i in range(len(ints))], len(uniques)


def order_by(keys: Sequence[tuple[np.ndarray, int]], stable: bool = True) -> np.ndarray:
    """Sort order by several non-negative integer keys, most significant first.

    Each key comes with its cardinality (values in 0..card-1). Adjacent keys are packed into
    mixed-radix int64 keys while the product of cardinalities fits; the packed keys are then
    sorted least significant first with stable argsorts (usually just one). ``stable=False``
    allows a faster sort when rows with equal keys are interchangeable (one packed key only).
    """
    groups: list[list[tuple[np.ndarray, int]]] = [[]]
    total = 1
    for codes, card in reversed(keys):
        card = max(int(card), 1)
        if groups[-1] and total * card >= _KEY_LIMIT:
            groups.append([])
            total = 1
        groups[-1].append((codes, card))
        total *= card
    order = None
    n = len(keys[0][0])
    term = np.empty(n, dtype=np.int64)  # one scratch array: keys may be narrow (int8, int32)
    for group in groups:
        packed = np.zeros(n, dtype=np.int64)
        multiplier = 1
        for codes, card in group:
            term[:] = codes if order is None else codes[order]
            if multiplier != 1:
                term *= multiplier
            packed += term
            multiplier *= card
        kind = "quicksort" if not stable and len(groups) == 1 else "stable"
        step = np.argsort(packed, kind=kind)
        order = step if order is None else order[step]
    return order if order is not None else np.zeros(0, dtype=np.int64)


def shifted(codes: np.ndarray) -> tuple[np.ndarray, int]:
    """Codes with -1 (missing) moved to 0 and their cardinality, for :func:`order_by`."""
    return codes + 1, int(codes.max(initial=-1)) + 2


def last_rows(pid: np.ndarray) -> np.ndarray:
    """Positions of the last row of each run of equal values in a sorted array."""
    if len(pid) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.r_[pid[1:] != pid[:-1], True])


def first_rows(pid: np.ndarray) -> np.ndarray:
    """Positions of the first row of each run of equal values in a sorted array."""
    if len(pid) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.r_[True, pid[1:] != pid[:-1]])


def scatter(n: int, at_rows: np.ndarray, values: np.ndarray, fill: object = np.nan) -> np.ndarray:
    """An array of length ``n`` holding ``values`` at ``at_rows`` and ``fill`` elsewhere."""
    dtype = object if values.dtype == object else np.result_type(values.dtype, np.float64)
    out = np.full(n, fill, dtype=dtype)
    out[at_rows] = values
    return out


def group_median(keys: np.ndarray, values: np.ndarray, n_keys: int) -> np.ndarray:
    """Median of non-negative integer ``values`` per key in 0..n_keys-1 (NaN for empty keys).

    A histogram when keys x values is small next to the data (few clinics or services),
    else one sort of a packed (key, value) int64.
    """
    out = np.full(n_keys, np.nan)
    if len(keys) == 0:
        return out
    values = values.astype(np.int64)
    radix = int(values.max()) + 1
    counts = np.bincount(keys, minlength=n_keys)
    has = counts > 0
    starts = np.cumsum(counts) - counts
    lo = starts[has] + (counts[has] - 1) // 2
    hi = starts[has] + counts[has] // 2
    if n_keys * radix <= 4 * len(keys) + 100_000:
        cumulative = np.cumsum(np.bincount(keys * radix + values, minlength=n_keys * radix))
        out[has] = (np.searchsorted(cumulative, lo, side="right") % radix
                    + np.searchsorted(cumulative, hi, side="right") % radix) / 2.0
        return out
    ordered = np.sort(keys.astype(np.int64) * radix + values) % radix
    out[has] = (ordered[lo] + ordered[hi]) / 2.0
    return out


def rate(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` with NaN where ``den`` is 0."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
