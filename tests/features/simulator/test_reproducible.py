"""Same seed, same clinic; another seed, another clinic."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from features.simulator import write_demo
from features.simulator.writer import default_truth_dates

FILES = ("patients.csv", "visits.csv", "contacts.csv")


def _write(folder: Path, seed: int) -> None:
    write_demo(folder, 400, seed, "2024-01-01", "2025-02-28", truth_as_of=["2024-12-31"])


def test_the_same_seed_writes_identical_files(tmp_path: Path) -> None:
    _write(tmp_path / "a", 5)
    _write(tmp_path / "b", 5)
    for name in FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    for name in ("returns.parquet", "channels.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "a" / "truth" / name),
                                      pd.read_parquet(tmp_path / "b" / "truth" / name))
    meta = json.loads((tmp_path / "a" / "truth" / "meta.json").read_text())
    assert meta["seed"] == 5 and meta["n_patients"] == 400 and meta["horizon_days"] == 90


def test_another_seed_writes_another_clinic(tmp_path: Path) -> None:
    _write(tmp_path / "a", 5)
    _write(tmp_path / "c", 6)
    a, c = (tmp_path / "a" / "visits.csv"), (tmp_path / "c" / "visits.csv")
    assert a.read_bytes() != c.read_bytes()


def test_default_truth_dates_run_back_720_days_every_30() -> None:
    dates = default_truth_dates(pd.Timestamp("2021-01-01"), pd.Timestamp("2026-10-31"))
    assert len(dates) == 25
    assert dates[-1] == pd.Timestamp("2026-10-31")
    assert dates[0] == pd.Timestamp("2026-10-31") - pd.Timedelta(days=720)
