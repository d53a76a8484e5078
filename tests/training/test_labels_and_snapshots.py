"""Labels and snapshots on hand-made exports, with hand-computed answers."""

from __future__ import annotations

import pandas as pd
import pytest

from features.config import Settings
from training.context import season_index
from training.labels import contact_labels, label_known_by, return_labels
from training.training_snapshots import (
    HELD_OUT_PATIENTS,
    SEPARATE,
    InsufficientHistory,
    build_training_rows,
    labelled_as_ofs,
    split_as_ofs,
)

from .conftest import make_tables

T = "2024-03-01"


def _label(visit_at: str, status: str = "completed") -> int:
    tables = make_tables([("p1", "2023-01-05", "completed"), ("p1", visit_at, status)])
    return int(return_labels(tables.visits, pd.Index(["p1"]), T, 90).iloc[0])


def test_visit_on_the_as_of_day_is_not_a_return():
    assert _label("2024-03-01 16:30") == 0


def test_visit_the_day_after_the_as_of_day_is_a_return():
    assert _label("2024-03-02 08:00") == 1


def test_visit_on_the_last_day_of_the_horizon_is_a_return():
    # T + 90 days = 2024-05-30; late that day still counts.
    assert _label("2024-05-30 23:59") == 1


def test_visit_the_day_after_the_horizon_is_not_a_return():
    assert _label("2024-05-31 00:00") == 0


def test_a_no_show_inside_the_window_is_not_a_return():
    assert _label("2024-04-10", status="no_show") == 0


def test_contact_converts_when_booked_within_the_attribution_window():
    tables = make_tables(
        [("p1", "2024-01-20", "completed", "2024-01-15 10:00"),
         ("p2", "2024-02-01", "completed", "2024-01-16 10:00")],
        contacts=[("p1", "sms", "2024-01-01 09:00"), ("p2", "email", "2024-01-01 09:00")],
    )
    labels = contact_labels(tables.contacts, tables.visits, 14)
    # 14 days after the send counts; p1 booked 14 days 1 hour after, p2 15 days 1 hour after.
    assert labels.tolist() == [0, 0]
    labels = contact_labels(tables.contacts, tables.visits, 15)
    assert labels.tolist() == [1, 0]


def test_the_latest_contact_before_a_booking_takes_the_credit():
    tables = make_tables(
        [("p1", "2024-01-20", "completed", "2024-01-10")],
        contacts=[("p1", "sms", "2024-01-01"), ("p1", "phone", "2024-01-08")],
    )
    assert contact_labels(tables.contacts, tables.visits, 14).tolist() == [0, 1]


def test_no_label_window_crosses_the_training_date():
    tables = make_tables([("p1", "2020-01-01", "completed"), ("p1", "2024-06-01", "completed")])
    settings = Settings()
    for t in pd.date_range("2022-06-01", "2024-12-31", freq="17D"):
        split = split_as_ofs(tables, t, settings)
        for d in [*split.train, *split.calibration, *split.validation]:
            assert label_known_by(d, settings.horizon_days, t)
            end = pd.Timestamp(d) + pd.Timedelta(days=settings.horizon_days)
            assert end <= t


def test_training_labels_are_known_before_calibration_and_calibration_before_validation():
    tables = make_tables([("p1", "2020-01-01", "completed")])
    settings = Settings()
    split = split_as_ofs(tables, "2024-06-30", settings)
    h = settings.horizon_days
    assert all(label_known_by(d, h, split.calibration[0]) for d in split.train)
    assert all(label_known_by(d, h, split.validation[0]) for d in split.calibration)
    assert split.validation[-1] == pd.Timestamp("2024-06-30") - pd.Timedelta(days=h)
    assert len(split.train) == settings.training.max_snapshots


def test_as_of_dates_start_after_the_minimum_history():
    tables = make_tables([("p1", "2023-01-01 10:00", "completed")])
    dates = labelled_as_ofs(tables, "2024-06-30", Settings())
    assert dates[0] >= pd.Timestamp("2023-01-01") + pd.Timedelta(days=180)
    assert dates[-1] == pd.Timestamp("2024-04-01")


def test_a_history_shorter_than_the_horizon_plus_four_weeks_is_refused_with_a_clear_error():
    tables = make_tables([("p1", "2024-04-01", "completed")])
    with pytest.raises(InsufficientHistory, match="at least 118 days"):
        split_as_ofs(tables, "2024-06-30", Settings())


def test_six_months_of_history_give_overlapping_dates_validated_on_the_latest_labelled_one():
    tables = make_tables([("p1", "2024-01-01", "completed")])
    split = split_as_ofs(tables, "2024-06-30", Settings())
    assert split.mode == HELD_OUT_PATIENTS
    assert split.validation == [pd.Timestamp("2024-04-01")]
    assert split.train[-1] == split.validation[0]
    assert all(b - a == pd.Timedelta(days=14) for a, b in zip(split.train, split.train[1:], strict=False))
    assert any("no window later than the training data" in s for s in split.not_validated())


def test_separate_windows_leave_nothing_unvalidated():
    tables = make_tables([("p1", "2020-01-01", "completed")])
    split = split_as_ofs(tables, "2024-06-30", Settings())
    assert split.mode == SEPARATE and split.not_validated() == []
    assert split.to_dict()["validation_mode"] == SEPARATE


def test_snapshot_rows_hold_features_at_t_and_only_the_population():
    tables = make_tables(
        [
            ("returns", "2024-01-10", "completed"), ("returns", "2024-03-15", "completed"),
            ("stays_away", "2023-06-01", "completed"),
            ("booked", "2024-01-05", "completed"),
            ("booked", "2024-03-20", "scheduled", "2024-02-20"),
            ("dead", "2024-01-01", "completed"),
            ("new_later", "2024-04-01", "completed"),
        ],
        patients=[("dead", True)],
    )
    rows = build_training_rows(tables, ["2024-03-01"], Settings())
    by_id = rows.set_index("patient_id")
    assert sorted(by_id.index) == ["returns", "stays_away"]
    assert by_id.loc["returns", "label"] == 1
    assert by_id.loc["stays_away", "label"] == 0
    assert by_id.loc["returns", "days_since_last_visit"] == 51  # 2024-01-10 .. 2024-03-01
    assert (rows["as_of"] == pd.Timestamp("2024-03-01")).all()


def test_booked_patients_stay_when_the_config_includes_them():
    tables = make_tables([("booked", "2024-01-05", "completed"),
                          ("booked", "2024-03-20", "scheduled", "2024-02-20")])
    settings = Settings(training={"include_booked": True})
    rows = build_training_rows(tables, ["2024-03-01"], settings)
    assert rows["patient_id"].tolist() == ["booked"]
    assert rows["label"].tolist() == [0]  # the appointment is scheduled, not completed


def test_season_index_is_one_for_an_evenly_busy_clinic_and_unknown_without_a_year():
    days = pd.date_range("2023-12-01", "2024-12-31", freq="D")
    tables = make_tables([(f"p{i % 40}", str(d.date()), "completed") for i, d in enumerate(days)])
    assert season_index(tables, "2024-12-31", 30)["c1"] == pytest.approx(1.0)
    doubled = make_tables(
        [(f"p{i % 40}", str(d.date()), "completed") for i, d in enumerate(days)]
        + [("extra", str(d.date()), "completed")
           for d in pd.date_range("2024-01-02", "2024-01-31", freq="D")])
    # 60 visits in the window against 395 in the year: 60 / (395 * 30 / 365)
    assert season_index(doubled, "2024-12-31", 30)["c1"] == pytest.approx(60 / (395 * 30 / 365))
    assert season_index(tables, "2024-06-30", 30).isna().all()
