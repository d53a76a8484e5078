"""Value and reliability features, checked against numbers worked out by hand."""

from __future__ import annotations

import math

import pytest

from features.pipeline import reliability, value

VISITS = [
    {"patient_id": "a", "visit_at": "2023-06-01", "service": "botox", "revenue": 300},
    {"patient_id": "a", "visit_at": "2024-03-01", "service": "botox", "revenue": 400},
    {"patient_id": "a", "visit_at": "2024-05-01", "service": "filler", "revenue": 600},
    {"patient_id": "a", "visit_at": "2024-06-01", "status": "no_show", "revenue": 50},
    {"patient_id": "a", "visit_at": "2024-09-01", "service": "filler", "revenue": 900},  # after T
    {"patient_id": "b", "visit_at": "2024-02-01", "status": "cancelled"},
    {"patient_id": "b", "visit_at": "2024-03-01", "status": "no_show"},
    {"patient_id": "b", "visit_at": "2024-04-01", "service": "filler", "revenue": 200},
    {"patient_id": "c", "visit_at": "2024-08-01", "status": "scheduled"},
]
AS_OF = "2024-07-01"


@pytest.fixture
def tables(make_tables):
    return make_tables(VISITS, export_date="2024-07-31")


def test_revenue_sums_include_fees_and_ignore_later_visits(tables, settings):
    f = value.build(tables, AS_OF, settings)
    assert f.loc["a", "revenue_lifetime"] == 1350
    assert f.loc["a", "revenue_12m"] == 1050  # 2023-06-01 is more than 365 days back
    assert f.loc["a", "revenue_per_visit"] == pytest.approx(1300 / 3)
    assert f.loc["b", "revenue_per_visit"] == 200
    assert f.loc["c", "revenue_lifetime"] == 0
    assert math.isnan(f.loc["c", "revenue_per_visit"])


def test_expected_revenue_shrinks_toward_the_clinic_average_of_the_last_service(
    tables, settings
):
    f = value.build(tables, AS_OF, settings)
    filler = (600 + 200) / 2
    assert f.loc["a", "expected_revenue_per_visit"] == pytest.approx((1300 + 2 * filler) / 5)
    assert f.loc["b", "expected_revenue_per_visit"] == pytest.approx((200 + 2 * filler) / 3)
    clinic = (300 + 400 + 600 + 200) / 4
    assert f.loc["c", "expected_revenue_per_visit"] == pytest.approx(clinic)


def test_value_is_unknown_when_the_export_has_no_revenue(make_tables, settings):
    tables = make_tables([{"patient_id": "a", "visit_at": "2024-01-01"}])
    f = value.build(tables, AS_OF, settings)
    assert f.isna().all().all()


def test_reliability_counts_and_smoothed_rates(tables, settings):
    f = reliability.build(tables, AS_OF, settings)
    assert f.loc["a"][["appointments_lifetime", "noshow_count", "cancel_count"]].tolist() == [
        4, 1, 0]
    assert f.loc["b"][["appointments_lifetime", "noshow_count", "cancel_count"]].tolist() == [
        3, 1, 1]
    noshow_clinic, cancel_clinic, k = 2 / 7, 1 / 7, settings.features.reliability_prior_strength
    assert f.loc["a", "noshow_rate"] == pytest.approx((1 + k * noshow_clinic) / (4 + k))
    assert f.loc["b", "cancel_rate"] == pytest.approx((1 + k * cancel_clinic) / (3 + k))
    assert f.loc["c", "noshow_rate"] == pytest.approx(noshow_clinic)  # no past appointment
