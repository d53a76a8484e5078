"""Append-only columnar buffers the engine writes events into.

Numpy arrays that double in capacity, so a million-patient run appends millions of rows
without Python objects per row.
"""

from __future__ import annotations

import numpy as np

VISIT_COLUMNS: dict[str, str] = {
    "patient": "int32", "book_day": "int32", "book_min": "int16", "visit_day": "int32",
    "visit_min": "int16", "service": "int8", "provider": "int16", "status": "int8",
    "revenue": "float32", "mu_after": "float32", "mode_after": "int8",
}
CONTACT_COLUMNS: dict[str, str] = {
    "patient": "int32", "day": "int32", "minute": "int16", "channel": "int8",
    "campaign": "int16", "responded": "bool", "reacted": "bool", "resp_day": "int32",
    "resp_min": "int16", "opted_out": "bool", "up_rate": "float32", "up_start": "int32",
    "up_until": "int32",
}
EVENT_COLUMNS: dict[str, str] = {"patient": "int32", "day": "int32", "engaged": "bool",
                                 "reason": "int8"}
ONSET_COLUMNS: dict[str, str] = {"patient": "int32", "day": "int32"}
MEMBER_COLUMNS: dict[str, str] = {"patient": "int32", "campaign": "int16", "holdout": "bool"}


class Buffer:
    """A growable table of fixed-dtype numpy columns."""

    def __init__(self, columns: dict[str, str], capacity: int = 1024) -> None:
        self._cols = {k: np.zeros(capacity, dtype=v) for k, v in columns.items()}
        self.size = 0

    def append(self, **values: np.ndarray) -> np.ndarray:
        """Append rows (all columns, equal lengths); returns their row numbers."""
        k = len(next(iter(values.values())))
        need = self.size + k
        cap = len(next(iter(self._cols.values())))
        if need > cap:
            new_cap = max(need, cap * 2)
            for name, arr in self._cols.items():
                grown = np.zeros(new_cap, dtype=arr.dtype)
                grown[: self.size] = arr[: self.size]
                self._cols[name] = grown
        rows = np.arange(self.size, need)
        for name, arr in self._cols.items():
            arr[self.size:need] = values[name]
        self.size = need
        return rows

    def col(self, name: str) -> np.ndarray:
        """The live (mutable) view of a column's filled rows."""
        return self._cols[name][: self.size]

    def freeze(self) -> dict[str, np.ndarray]:
        """Trimmed copies of every column."""
        return {k: v[: self.size].copy() for k, v in self._cols.items()}
