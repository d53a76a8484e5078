"""Visit cadence, checked against numbers worked out by hand."""

from __future__ import annotations

import math

import pytest

from features.pipeline import cadence

VISITS = [
    # patient a: botox every ~91 days, then filler
    {"patient_id": "a", "visit_at": "2024-01-01 10:00", "service": "botox", "provider_id": "p1"},
    {"patient_id": "a", "visit_at": "2024-04-01 09:00", "service": "botox", "provider_id": "p1"},
    {"patient_id": "a", "visit_at": "2024-07-01 15:00", "service": "filler", "provider_id": "p2",
     "location_id": "downtown"},
    # same-day second visit does not make a zero gap
    {"patient_id": "a", "visit_at": "2024-07-01 16:00", "service": "filler", "provider_id": "p2",
     "location_id": "downtown"},
    # patient b: one visit a year ago, then a no-show
    {"patient_id": "b", "visit_at": "2023-07-15", "service": "laser", "provider_id": "p3"},
    {"patient_id": "b", "visit_at": "2024-06-01", "status": "no_show", "provider_id": "p3"},
    # patient c: only visits after T
    {"patient_id": "c", "visit_at": "2024-08-01", "service": "botox"},
]
AS_OF = "2024-07-15"


@pytest.fixture
def features(make_tables, settings):
    return cadence.build(make_tables(VISITS), AS_OF, settings)


def test_recency_counts_and_tenure_match_hand_computation(features):
    a = features.loc["a"]
    assert a["days_since_last_visit"] == 14
    assert a["visits_lifetime"] == 4
    assert a["visits_6m"] == 3  # 2024-01-01 is 196 days before T
    assert a["visits_12m"] == 4
    assert a["tenure_days"] == 196
    b = features.loc["b"]
    assert b["days_since_last_visit"] == 366  # 2023-07-15 -> 2024-07-15, leap year
    assert b["visits_lifetime"] == 1  # the no-show is not a completed visit


def test_gaps_are_between_distinct_visit_days(features):
    a = features.loc["a"]
    assert a["gap_median_days"] == 91
    assert a["gap_mean_days"] == 91
    assert a["gap_std_days"] == 0
    assert math.isnan(features.loc["b", "gap_median_days"])
    assert math.isnan(features.loc["b", "gap_std_days"])


def test_expected_interval_shrinks_toward_the_typical_gap_of_the_last_service(
    make_tables, settings
):
    visits = [
        {"patient_id": "x", "visit_at": "2024-01-01", "service": "botox"},
        {"patient_id": "x", "visit_at": "2024-03-01", "service": "botox"},  # gap 60
        {"patient_id": "y", "visit_at": "2024-01-01", "service": "botox"},
        {"patient_id": "y", "visit_at": "2024-05-10", "service": "botox"},  # gap 130
        {"patient_id": "z", "visit_at": "2024-06-01", "service": "botox"},
    ]
    f = cadence.build(make_tables(visits), "2024-06-30", settings)
    # botox gaps known at T: 60 and 130 -> typical 95; k = 2 pseudo-gaps
    assert f.loc["x", "expected_interval_days"] == pytest.approx((1 * 60 + 2 * 95) / 3)
    assert f.loc["z", "expected_interval_days"] == pytest.approx(95)  # no own gap: the prior
    assert f.loc["z", "overdue_ratio"] == pytest.approx(29 / 95)
    assert f.loc["z", "days_overdue"] == pytest.approx(29 - 95)


def test_expected_interval_falls_back_to_the_default_without_any_gap(make_tables, settings):
    f = cadence.build(make_tables([{"patient_id": "a", "visit_at": "2024-01-01"}]),
                      "2024-01-31", settings)
    assert f.loc["a", "expected_interval_days"] == settings.features.default_interval_days


def test_services_providers_and_location_come_from_known_completed_visits(features):
    a = features.loc["a"]
    assert a["last_service"] == "filler"
    assert a["main_service"] == "botox"  # 2 botox, 2 filler: tie goes to the first name
    assert a["main_service_share"] == 0.5
    assert a["distinct_services"] == 2
    assert a["last_provider_id"] == "p2"
    assert a["last_provider_active"] == 1.0
    assert a["location_id"] == "downtown"
    b = features.loc["b"]
    assert b["last_provider_id"] == "p3"
    assert b["last_provider_active"] == 0.0  # p3 completed nothing in the last 90 days


def test_patient_without_completed_visit_before_t_has_missing_cadence(features):
    c = features.loc["c"]
    assert math.isnan(c["days_since_last_visit"])
    assert math.isnan(c["expected_interval_days"])
    assert c["visits_lifetime"] == 0
    assert c["last_service"] is None


def test_home_location_wins_over_the_last_visit_location(make_tables, settings):
    tables = make_tables(
        [{"patient_id": "a", "visit_at": "2024-01-01", "location_id": "uptown"}],
        patients=[{"patient_id": "a", "clinic_id": "k", "location_id": "home"}],
    )
    assert cadence.build(tables, "2024-02-01", settings).loc["a", "location_id"] == "home"


def test_future_appointment_counts_only_if_booked_before_the_cutoff(make_tables, settings):
    visits = [
        {"patient_id": "a", "visit_at": "2024-08-01", "booked_at": "2024-07-15 18:00",
         "status": "no_show"},
        {"patient_id": "b", "visit_at": "2024-08-01", "booked_at": "2024-07-16"},
        {"patient_id": "c", "visit_at": "2024-08-01", "status": "scheduled"},
    ]
    at_t = cadence.build(make_tables(visits, export_date="2024-07-20"), "2024-07-15", settings)
    assert at_t["has_booked_appointment"].to_dict() == {"a": True, "b": False, "c": False}
    at_export = cadence.build(make_tables(visits, export_date="2024-07-20"), "2024-07-20",
                              settings)
    assert at_export["has_booked_appointment"].to_dict() == {"a": True, "b": True, "c": True}
