"""Dental and physiotherapy clinics: their rates in range, their oracle exact, aesthetics as
it was, and a group export with unique ids."""

from __future__ import annotations

import pandas as pd
import pytest

from features.simulator import simulate, simulate_group, truth_at
from features.simulator.group import default_clinics, practice_of
from features.simulator.practice_rates import out_of_range, practice_rates
from features.simulator.practices import PRACTICES, practice_config
from features.simulator.truth import state_at
from features.vocabulary import in_label_window

START, TRUTH_DAY = pd.Timestamp("2022-01-01"), pd.Timestamp("2024-06-15")


@pytest.fixture(scope="module", params=["dental", "physio"])
def quiet(request):
    """A clinic of the practice type with no campaign in the 60 days before the truth day."""
    cfg = practice_config(request.param, campaigns_until_day=(TRUTH_DAY - START).days - 60)
    return request.param, simulate(2500, 3, START, "2024-09-30", config=cfg)


@pytest.mark.parametrize("practice", PRACTICES)
def test_each_practice_type_s_rates_fall_in_their_documented_ranges(practice):
    # 3,000 patients: at 1,000 the five-year retention of the small first-year cohort swings
    # 0.35-0.56 across seeds (aesthetics), wider than its band
    sim = simulate(3000, 11, config=practice_config(practice))
    assert out_of_range(practice, practice_rates(sim)) == {}


def test_the_oracle_of_recall_and_episodes_matches_the_simulated_future(quiet):
    _, sim = quiet
    returns, _ = truth_at(sim, TRUTH_DAY)
    v = sim.tables.visits
    done = v[(v["status"] == "completed") & in_label_window(v["visit_at"], TRUTH_DAY, 90)]
    observed = returns["patient_id"].isin(done["patient_id"])
    assert abs(returns["p_return"].mean() - observed.mean()) < 0.025
    low = returns["p_return"] < 0.1
    high = returns["p_return"] > 0.9
    assert observed[low].mean() < 0.06 and observed[high].mean() > 0.9


def test_only_physiotherapy_patients_go_idle_between_courses_and_then_seldom_return(quiet):
    practice, sim = quiet
    state = state_at(sim.raw, sim.raw.calendar.day_of(TRUTH_DAY))
    if practice != "physio":
        assert (state.mode == 0).all()  # a recall practice has no episodes of care
        return
    returns, _ = truth_at(sim, TRUTH_DAY)
    idle = state.engaged & (state.mode == 1) & (state.pend_day < 0)
    in_course = state.engaged & (state.mode == 0) & (state.pend_day < 0)
    p = returns["p_return"].to_numpy()
    assert idle.sum() > 200
    assert p[idle].mean() < 0.25 < p[in_course].mean()


def test_an_aesthetics_clinic_is_what_the_default_simulation_always_was():
    a = simulate(300, 5, "2024-01-01", "2024-12-31")
    b = simulate(300, 5, "2024-01-01", "2024-12-31", config=practice_config("aesthetics"))
    pd.testing.assert_frame_equal(a.tables.visits, b.tables.visits)
    assert set(a.tables.visits["service"]) <= {"consultation", "botox", "filler", "laser",
                                               "skin_check"}


def test_a_group_export_has_every_clinic_with_its_own_services_and_unique_ids():
    tables = simulate_group(default_clinics(600), 4, "2024-01-01", "2024-12-31")
    p, v = tables.patients, tables.visits
    assert set(p["clinic_id"]) == {"aesthetics-1", "dental-1", "physio-1"}
    assert p["patient_id"].is_unique and v["visit_id"].is_unique
    assert tables.contacts["contact_id"].is_unique
    assert (p["patient_id"].str.split("-P").str[0] == p["clinic_id"]).all()
    clinic = v["patient_id"].map(p.set_index("patient_id")["clinic_id"])
    assert "hygiene" in set(v.loc[clinic == "dental-1", "service"])
    assert "physiotherapy" in set(v.loc[clinic == "physio-1", "service"])
    assert practice_of("physio-2") == "physio" and practice_of("demo") == "aesthetics"
