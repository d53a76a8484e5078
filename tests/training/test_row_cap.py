"""A large clinic's training rows are capped by a seeded sample stratified by date, label, segment."""

from __future__ import annotations

import numpy as np
import pandas as pd

from training.training_snapshots import build_training_rows, split_as_ofs, stratified_rows

from .conftest import small_settings


def _rows(small_sim, as_of, cap: int, seed: int = 42) -> pd.DataFrame:  # noqa: ANN001
    settings = small_settings(max_training_rows=cap).model_copy(update={"seed": seed})
    split = split_as_ofs(small_sim.tables, as_of, settings)
    dates = [*split.train, *split.calibration, *split.validation]
    return build_training_rows(small_sim.tables, dates, settings), dates


def test_capped_rows_stay_under_the_cap_and_every_as_of_date_is_represented(small_sim, as_of):
    full, dates = _rows(small_sim, as_of, cap=0)
    capped, _ = _rows(small_sim, as_of, cap=len(full) // 3)
    assert len(capped) <= len(full) // 3 + 2 * len(dates) * 10  # rounding: <= 1 per stratum
    assert len(capped) < len(full) // 2
    assert set(capped["as_of"]) == set(full["as_of"]) == set(dates)
    assert capped.attrs["rows_available"] == len(full)


def test_the_same_seed_gives_the_same_rows_and_another_seed_other_rows(small_sim, as_of):
    full, _ = _rows(small_sim, as_of, cap=0)
    a, _ = _rows(small_sim, as_of, cap=len(full) // 3, seed=1)
    b, _ = _rows(small_sim, as_of, cap=len(full) // 3, seed=1)
    c, _ = _rows(small_sim, as_of, cap=len(full) // 3, seed=2)
    pd.testing.assert_frame_equal(a, b)
    assert set(zip(a["as_of"], a["patient_id"], strict=True)) != set(zip(c["as_of"], c["patient_id"], strict=True))


def test_each_date_keeps_its_return_rate_and_segment_mix(small_sim, as_of):
    full, _ = _rows(small_sim, as_of, cap=0)
    capped, _ = _rows(small_sim, as_of, cap=len(full) // 3)
    for frame in (full, capped):
        assert frame["label"].notna().all()
    rate = lambda f: f.groupby("as_of")["label"].mean()  # noqa: E731
    assert np.abs(rate(full) - rate(capped)).max() < 0.02
    mix = lambda f: f["segment"].value_counts(normalize=True)  # noqa: E731
    assert (mix(full) - mix(capped)).abs().max() < 0.02


def test_stratified_rows_take_the_same_fraction_of_each_stratum():
    labels = np.array([0] * 900 + [1] * 100)
    strata = np.array(["a", "b"] * 500)
    keep = stratified_rows(labels, strata, quota=100, seed=0)
    assert len(keep) == 100 and np.all(np.diff(keep) > 0)
    assert labels[keep].sum() == 10
    assert stratified_rows(labels, strata, quota=None, seed=0).tolist() == list(range(1000))


def test_capped_rows_hold_floats_as_float32(small_sim, as_of):
    capped, _ = _rows(small_sim, as_of, cap=5000)
    assert "float64" not in set(map(str, capped.dtypes))
    assert str(capped["days_since_last_visit"].dtype) == "float32"


def test_contact_rows_keep_the_latest_contacts_up_to_the_cap(small_sim, as_of):
    from features.pipeline.events import prepare
    from training.contact_rows import build_contact_rows

    tables = small_sim.tables
    prepared = prepare(tables)
    until = split_as_ofs(tables, as_of, small_settings()).validation[0]
    full = build_contact_rows(tables, prepared, until, small_settings(max_contact_rows=0))
    cap = len(full) // 4
    capped = build_contact_rows(tables, prepared, until, small_settings(max_contact_rows=cap))
    assert len(capped) == cap and capped.attrs["contacts_available"] == len(full)
    # the latest contacts, with the same features and labels as in the full set
    assert capped["sent_at"].min() >= full["sent_at"].sort_values().iloc[-cap]
    keys = ["sent_at", "patient_id", "channel"]
    merged = capped.merge(full, on=keys, suffixes=("", "_full"))
    assert len(merged) >= cap
    for col in ("booked", "responded", "days_since_last_visit", "channel_sent"):
        pd.testing.assert_series_equal(merged[col], merged[f"{col}_full"], check_names=False)
