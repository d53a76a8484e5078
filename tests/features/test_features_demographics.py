"""Demographics and current-state flags."""

from __future__ import annotations

import math

from features.pipeline import demographics

PATIENTS = [
    {"patient_id": "a", "clinic_id": "k", "birth_date": "1990-07-16", "sex": "F",
     "created_at": "2020-01-01", "do_not_contact": True},
    {"patient_id": "b", "clinic_id": "k", "birth_date": "1990-07-15", "created_at": "2024-08-01",
     "deceased": True},
    {"patient_id": "c", "clinic_id": "k"},
]


def test_age_in_whole_years_at_t_and_registration_only_once_known(make_tables, settings):
    visits = [{"patient_id": p, "visit_at": "2024-01-01"} for p in "abc"]
    f = demographics.build(make_tables(visits, patients=PATIENTS), "2024-07-15", settings)
    assert f.loc["a", "age_years"] == 33  # birthday tomorrow
    assert f.loc["b", "age_years"] == 34  # birthday today
    assert math.isnan(f.loc["c", "age_years"])
    assert f.loc["a", "sex"] == "F"
    assert f.loc["a", "days_since_registration"] == 1657
    assert math.isnan(f.loc["b", "days_since_registration"])  # registered after T


def test_missing_current_state_flags_mean_not_flagged(make_tables, settings):
    visits = [{"patient_id": p, "visit_at": "2024-01-01"} for p in "abc"]
    f = demographics.build(make_tables(visits, patients=PATIENTS), "2024-07-15", settings)
    assert f["do_not_contact"].tolist() == [True, False, False]
    assert f["deceased"].tolist() == [False, True, False]
