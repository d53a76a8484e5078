"""The oracle's probabilities are probabilities, and they match the simulated future."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from features.simulator import Simulation, truth_at
from features.simulator.truth import state_at
from features.vocabulary import HOLDOUT, NO_CONTACT, TREATMENT, cutoff, in_label_window

from .conftest import TRUTH_DAY


def _returned(sim: Simulation, patients: pd.Series, days: int = 90) -> pd.Series:
    v = sim.tables.visits
    done = v[(v["status"] == "completed") & in_label_window(v["visit_at"], TRUTH_DAY, days)]
    return patients.isin(done["patient_id"])


def test_truth_covers_registered_patients_and_consented_channels(small_sim: Simulation) -> None:
    returns, channels = truth_at(small_sim, "2024-09-30")
    p = small_sim.tables.patients
    registered = p.loc[p["created_at"] < cutoff("2024-09-30"), "patient_id"]
    assert set(returns["patient_id"]) == set(registered)
    assert returns["p_return"].between(0, 1).all() and channels["p_book"].between(0, 1).all()
    assert (returns["as_of"] == pd.Timestamp("2024-09-30")).all()
    consent = p.set_index("patient_id").loc[registered].filter(like="consent_")
    consented = consent.rename(columns=lambda c: c.removeprefix("consent_")).stack()
    consented = consented[consented.astype(bool)].index  # True only (stack drops unknown)
    got = pd.MultiIndex.from_frame(channels[["patient_id", "channel"]])
    assert got.is_unique
    none = channels["channel"] == NO_CONTACT
    assert set(got[~none.to_numpy()]) == set(consented)
    assert set(channels.loc[none, "patient_id"]) == set(registered)


def test_mean_return_probability_matches_the_simulated_future(quiet_sim: Simulation) -> None:
    returns, _ = truth_at(quiet_sim, TRUTH_DAY)
    observed = _returned(quiet_sim, returns["patient_id"])
    assert abs(returns["p_return"].mean() - observed.mean()) < 0.02
    bins = pd.cut(returns["p_return"], [0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0], include_lowest=True)
    table = pd.DataFrame({"p": returns["p_return"], "o": observed}).groupby(
        bins, observed=True).agg(p=("p", "mean"), o=("o", "mean"), n=("o", "size"))
    big = table[table["n"] >= 300]
    assert len(big) >= 4
    assert (big["p"] - big["o"]).abs().max() < 0.06


def test_shorter_horizons_give_lower_probabilities(quiet_sim: Simulation) -> None:
    r30, _ = truth_at(quiet_sim, TRUTH_DAY, horizon_days=30)
    r90, _ = truth_at(quiet_sim, TRUTH_DAY, horizon_days=90)
    assert (r30["p_return"].to_numpy() <= r90["p_return"].to_numpy() + 1e-12).all()
    observed = _returned(quiet_sim, r30["patient_id"], days=30)
    assert abs(r30["p_return"].mean() - observed.mean()) < 0.02


def test_channel_probabilities_match_bookings_after_one_contact(
    one_contact_sim: Simulation,
) -> None:
    _, channels = truth_at(one_contact_sim, TRUTH_DAY)
    c = one_contact_sim.tables.contacts.merge(channels, on=["patient_id", "channel"])
    assert len(c) > 2000
    v = one_contact_sim.tables.visits
    first = v[v["booked_at"] >= cutoff(TRUTH_DAY)].groupby("patient_id")["booked_at"].min()
    booked = c["patient_id"].map(first) < cutoff(TRUTH_DAY) + pd.Timedelta(days=14)
    assert abs(c["p_book"].mean() - booked.mean()) < 0.025
    by_channel = pd.DataFrame({"p": c["p_book"], "o": booked, "ch": c["channel"]}).groupby("ch")
    assert (by_channel["p"].mean() - by_channel["o"].mean()).abs().max() < 0.05


def _booked_within_window(sim: Simulation, patients: pd.Series) -> pd.Series:
    v = sim.tables.visits
    first = v[v["booked_at"] >= cutoff(TRUTH_DAY)].groupby("patient_id")["booked_at"].min()
    return patients.map(first) < cutoff(TRUTH_DAY) + pd.Timedelta(days=14)


def test_true_uplift_matches_contacted_members_against_the_holdout(
    holdout_sim: Simulation,
) -> None:
    _, truth = truth_at(holdout_sim, TRUTH_DAY)
    members = holdout_sim.tables.campaign_members
    assert (members["assigned_at"] == cutoff(TRUTH_DAY)).all()
    none = truth.loc[truth["channel"] == NO_CONTACT].set_index("patient_id")["p_book"]
    held = members.loc[members["arm"] == HOLDOUT, "patient_id"]
    sent = holdout_sim.tables.contacts.merge(truth, on=["patient_id", "channel"])
    sent = sent[sent["patient_id"].isin(members.loc[members["arm"] == TREATMENT, "patient_id"])]
    assert len(held) > 1500 and len(sent) > 1500
    observed_t = _booked_within_window(holdout_sim, sent["patient_id"]).mean()
    observed_h = _booked_within_window(holdout_sim, held).mean()
    true_t, true_h = sent["p_book"].mean(), held.map(none).mean()
    assert abs(observed_t - true_t) < 0.025 and abs(observed_h - true_h) < 0.02
    true_uplift = true_t - true_h
    se = np.sqrt(observed_t * (1 - observed_t) / len(sent)
                 + observed_h * (1 - observed_h) / len(held))
    assert true_uplift > 3 * se  # the experiment can see the effect ...
    assert abs((observed_t - observed_h) - true_uplift) < 3 * se  # ... and it is the truth's
    # contacting never lowers the chance of a booking
    both = sent.assign(none=sent["patient_id"].map(none))
    assert (both["p_book"] >= both["none"] - 1e-12).all()


def test_silently_churned_patients_cannot_return_and_rarely_convert(
    quiet_sim: Simulation,
) -> None:
    returns, channels = truth_at(quiet_sim, TRUTH_DAY)
    day = quiet_sim.raw.calendar.day_of(TRUTH_DAY)
    engaged = pd.Series(state_at(quiet_sim.raw, day).engaged, index=returns["patient_id"])
    assert 0.2 < (~engaged).mean() < 0.8
    assert (returns.loc[~engaged.to_numpy(), "p_return"] == 0).all()
    assert (channels.loc[channels["channel"] == NO_CONTACT, "patient_id"].map(~engaged)
            <= (channels.loc[channels["channel"] == NO_CONTACT, "p_book"] == 0)).all()
    channels = channels[channels["channel"] != NO_CONTACT]
    gone = channels["patient_id"].map(~engaged)
    assert channels.loc[gone, "p_book"].mean() < 0.1 * channels.loc[~gone, "p_book"].mean()


def test_history_predicts_returns_but_the_oracle_predicts_better(quiet_sim: Simulation) -> None:
    returns, _ = truth_at(quiet_sim, TRUTH_DAY)
    v = quiet_sim.tables.visits
    past = v[(v["status"] == "completed") & (v["visit_at"] < cutoff(TRUTH_DAY))]
    last = past.groupby("patient_id")["visit_at"].max()
    days_since = (TRUTH_DAY - returns["patient_id"].map(last)).dt.days.fillna(10_000)
    observed = _returned(quiet_sim, returns["patient_id"])
    baseline = roc_auc_score(observed, -days_since.to_numpy())
    oracle = roc_auc_score(observed, returns["p_return"])
    assert 0.6 < baseline < oracle
    assert np.isfinite(oracle) and oracle < 0.99


def test_truth_refuses_dates_outside_the_simulation_and_odd_windows(
    small_sim: Simulation,
) -> None:
    with pytest.raises(ValueError, match="within the simulated period"):
        truth_at(small_sim, "2022-12-31")
    with pytest.raises(ValueError, match="horizon_days"):
        truth_at(small_sim, "2024-01-31", horizon_days=0)
    with pytest.raises(ValueError, match="attribution window"):
        truth_at(small_sim, "2024-01-31", attribution_days=7)
