"""``booked_between`` against a row-by-row reading of its rule, on random small exports.

The rule: a row is 1 when its patient has a booking moment (``booked_at``, else
``visit_at``) at or after ``start`` and before ``start + days``. The function answers it with
one sorted integer key; this test asks every row the slow way.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.export.loading import load_frames
from training.uplift.rows import booked_between


def _export(seed: int) -> tuple[object, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    n = 400
    visit_at = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 400 * 1440, n), "min")
    lead = pd.to_timedelta(rng.integers(0, 60 * 1440, n), "min")
    booked = pd.Series(visit_at - lead).where(rng.random(n) < 0.6)  # else: booked at the visit
    visits = pd.DataFrame({
        "visit_id": [f"v{i}" for i in range(n)],
        "patient_id": [f"p{k}" for k in rng.integers(0, 40, n)],
        "visit_at": visit_at, "booked_at": booked, "status": "completed",
    })
    patients = pd.DataFrame({"patient_id": [f"p{k}" for k in range(45)]})
    tables = load_frames({"patients": patients, "visits": visits},
                         export_date="2025-03-01").tables
    return tables, visits


def _slow(visits: pd.DataFrame, ids: np.ndarray, start: np.ndarray, days: np.ndarray) -> np.ndarray:
    moment = visits["booked_at"].fillna(visits["visit_at"])
    out = []
    for pid, s, d in zip(ids, start, days, strict=True):
        mine = moment[visits["patient_id"] == pid]
        out.append(int(((mine >= s) & (mine < s + pd.Timedelta(days=int(d)))).any()))
    return np.array(out, dtype=np.int8)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_booked_between_matches_the_rule_row_by_row(seed: int) -> None:
    tables, visits = _export(seed)
    rng = np.random.default_rng(100 + seed)
    m = 300
    ids = np.array([f"p{k}" for k in rng.integers(0, 45, m)], dtype=object)  # p40..p44: none
    start = (pd.Timestamp("2024-01-01")
             + pd.to_timedelta(rng.integers(0, 420, m), "D")).to_numpy("datetime64[ns]")
    days = rng.integers(0, 120, m)
    got = booked_between(tables, ids, start, days)
    assert got.dtype == np.int8
    assert np.array_equal(got, _slow(visits, ids, start, days))
    assert 0 < got.sum() < m  # both answers occur, so the comparison means something
    one = booked_between(tables, ids, start, 30)  # one window for every row
    assert np.array_equal(one, _slow(visits, ids, start, np.full(m, 30)))


def test_a_booking_exactly_at_the_end_is_outside() -> None:
    tables, visits = _export(0)
    moment = visits["booked_at"].fillna(visits["visit_at"])
    first = moment.groupby(visits["patient_id"]).min()
    pid, t = first.index[0], first.iloc[0]
    ids = np.array([pid, pid], dtype=object)
    start = np.array([t - pd.Timedelta(days=5), t], dtype="datetime64[ns]")
    assert booked_between(tables, ids, start, 5).tolist() == [0, 1]
