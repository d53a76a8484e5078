"""Feature frames to the numeric matrices LightGBM trains and predicts on.

Why numpy and not pandas categories: scoring must reach 200,000 patients per second, and
LightGBM's pandas path copies and re-codes every categorical column on each call. Here each
categorical column becomes the integer code of its value in the levels saved with the model
(unseen or missing values become NaN, which LightGBM treats as missing), exactly what
LightGBM does internally with a pandas ``category`` column, so both paths give the same
predictions (a test checks it).

"Never happened" recencies (days since the last response or contact when there was none)
are filled with ``NEVER_DAYS``, so that "never" sits at the far end of "long ago" and
monotone constraints also hold for it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

NEVER_DAYS = 36_500.0
NEVER_SUFFIXES: tuple[str, ...] = ("days_since_last_response", "days_since_last_contact")


def categorical_levels(frame: pd.DataFrame, columns: Sequence[str]) -> dict[str, list[str]]:
    """Sorted distinct non-missing values of each categorical column (as strings)."""
    return {
        c: sorted(pd.Series(frame[c]).dropna().astype(str).unique().tolist()) for c in columns
    }


def column_codes(values: pd.Series | np.ndarray, levels: Sequence[str]) -> np.ndarray:
    """Float codes of ``values`` in ``levels``; NaN for missing or unseen values."""
    series = pd.Series(values)
    if series.dtype != object and not isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype(str).where(series.notna(), None)
    codes = pd.Categorical(series, categories=list(levels)).codes
    out = codes.astype(np.float32)
    out[codes < 0] = np.nan
    return out


def to_matrix(
    frame: pd.DataFrame, features: Sequence[str], levels: dict[str, list[str]],
    spare: int = 0,
) -> np.ndarray:
    """A float32 matrix of ``features`` (columns in that order) for LightGBM.

    Args:
        frame: feature frame (any index); not modified.
        features: model input columns, in model order.
        levels: categorical column -> saved levels; columns not listed are numeric.
        spare: extra columns left unset after the features (scoring: the channel model's
            columns, written in place, so its matrix is never a copy of this one).

    Returns:
        ``(len(frame), len(features) + spare)`` float32 array (column-major) with NaN for
        missing values. Its first ``len(features)`` columns, ``out[:, :len(features)]``, are
        still one column-major block (a view, no copy).
    """
    # Fortran order: each column is written contiguously, and LightGBM (>= 4) reads
    # column-major input as is (same predictions, no copy).
    out = np.empty((len(frame), len(features) + spare), dtype=np.float32, order="F")
    for j, name in enumerate(features):
        if name in levels:
            out[:, j] = column_codes(frame[name], levels[name])
            continue
        column = frame[name]
        if column.dtype != np.float64:
            column = pd.to_numeric(column, errors="coerce")
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
        if name.endswith(NEVER_SUFFIXES):
            values = np.where(np.isnan(values), NEVER_DAYS, values)
        out[:, j] = values
    return out


def to_model_frame(
    frame: pd.DataFrame, features: Sequence[str], levels: dict[str, list[str]]
) -> pd.DataFrame:
    """The same inputs as :func:`to_matrix`, as a DataFrame with ``category`` columns.

    For explanations and plots that want readable values rather than codes.
    """
    data = {}
    for name in features:
        if name in levels:
            data[name] = pd.Categorical(frame[name].astype(object), categories=levels[name])
        else:
            values = pd.to_numeric(frame[name], errors="coerce").astype(float)
            if name.endswith(NEVER_SUFFIXES):
                values = values.fillna(NEVER_DAYS)
            data[name] = values.to_numpy()
    return pd.DataFrame(data, index=frame.index)
