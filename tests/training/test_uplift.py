"""Uplift learners, metrics, bundle round trip and the honest fallback."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from features.vocabulary import CHANNELS
from training.bundle import ModelBundle
from training.contact_rows import SUFFIXES
from training.uplift.design import CONTROL
from training.uplift.learners import DRLearner, StructuredUplift, TLearner, learner_from_dict
from training.uplift.metrics import extra_bookings, qini, qini_curve, truth_curve, uplift_at
from training.uplift.model import PROBABILITY, fit_uplift, unavailable
from training.uplift.training_step import _ordering

from .conftest import small_settings

FEATURES = ["x0", "x1", *(f"{c}_{s}" for c in CHANNELS for s in SUFFIXES)]


def _synthetic(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.random((n, len(FEATURES))).astype(np.float32)
    effect = np.where(x[:, 0] > 0.5, 0.35, 0.0)  # known: only x0 > 0.5 responds
    return x, effect


def _randomised(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    x, effect = _synthetic(n, seed)
    rng = np.random.default_rng(seed + 1)
    treatment = np.where(rng.random(n) < 0.5, rng.integers(0, 4, n), CONTROL)
    p = 0.1 + 0.1 * x[:, 1] + np.where(treatment != CONTROL, effect, 0.0)
    return x, treatment, (rng.random(n) < p).astype(float), effect


@pytest.mark.parametrize("cls", [TLearner, DRLearner])
def test_meta_learners_recover_the_sign_and_ranking_of_a_known_effect(cls):
    x, t, y, effect = _randomised(8000, 3)
    learner = cls(FEATURES, {}, seed=1, rounds=150).fit(x, t, y)
    x_new, effect_new = _synthetic(2000, 9)
    tau = learner.predict(x_new)
    assert tau.shape == (2000, len(CHANNELS))
    high, low = tau[effect_new > 0].mean(), tau[effect_new == 0].mean()
    assert high > 0.2 and abs(low) < 0.1
    np.testing.assert_allclose(learner_from_dict(learner.to_dict()).predict(x_new), tau)


def test_structured_learner_credits_only_bookings_the_message_caused():
    rng = np.random.default_rng(5)
    x_c, _ = _synthetic(6000, 1)  # no-contact rows: p0 depends on x1 only
    p0 = 0.05 + 0.4 * x_c[:, 1]
    y_c = (rng.random(6000) < p0).astype(float)
    x_t, effect = _synthetic(6000, 2)  # contacts: 1 - (1 - p0)(1 - q), q = 0.4 where x0 > .5
    q = np.where(effect > 0, 0.4, 0.02)
    y_t = (rng.random(6000) < 1 - (1 - (0.05 + 0.4 * x_t[:, 1])) * (1 - q)).astype(float)
    t = np.r_[np.full(6000, CONTROL), rng.integers(0, 4, 6000)]
    learner = StructuredUplift(FEATURES, {}, seed=1, rounds=150).fit(
        np.vstack([x_c, x_t]), t, np.r_[y_c, y_t])
    x_new, effect_new = _synthetic(2000, 9)
    tau = learner.predict(x_new)
    truth = (1 - (0.05 + 0.4 * x_new[:, 1]))[:, None] * np.where(effect_new > 0, 0.4, 0.02)[:, None]
    assert np.corrcoef(tau[:, 0], truth[:, 0])[0, 1] > 0.8
    assert abs(tau.mean() - truth.mean()) < 0.05
    restored = learner_from_dict(learner.to_dict())
    np.testing.assert_allclose(restored.predict(x_new), tau)


def test_qini_of_a_perfect_ranking_beats_random_and_a_hand_made_curve_is_exact():
    # 4 treated (2 book) and 4 held out (none books): the bookers first is perfect.
    treated = np.array([1, 1, 1, 1, 0, 0, 0, 0], bool)
    y = np.array([1, 1, 0, 0, 0, 0, 0, 0], float)
    perfect = np.array([8, 7, 6, 5, 4, 3, 2, 1], float)
    curve = qini_curve(perfect, treated, y)
    np.testing.assert_allclose(curve * 8, [0, 1, 2, 2, 2, 2, 2, 2, 2])
    reverse = qini_curve(-perfect, treated, y)
    assert qini(curve) > 0 > qini(reverse)
    mixed = np.array([8, 7, 2, 1, 6, 5, 4, 3], float)  # top half: both bookers, two held out
    assert uplift_at(mixed, treated, y, (0.5,))["uplift_at_50"] == 1.0
    assert np.isnan(uplift_at(perfect, treated, y, (0.5,))["uplift_at_50"])  # no holdout there
    effect = np.array([0.5, 0.0, 0.2, 0.1])
    assert qini(truth_curve(effect, effect)) > qini(truth_curve(np.zeros(4), effect))
    assert extra_bookings(effect, effect, 2) == pytest.approx(0.7)


def test_without_campaign_members_the_model_says_it_cannot_estimate_uplift(small_sim):
    settings = small_settings()
    tables = replace(small_sim.tables, campaign_members=None)
    model, members = fit_uplift(tables, None, pd.DataFrame(), pd.DataFrame(),
                                tables.export_date, None, settings)
    assert not model.available and members.empty
    assert "holdout" in model.reason
    assert model.predict_matrix(np.zeros((3, 5), np.float32)) is None
    for wanted in ("auto", "incremental_value"):
        s = small_settings(default_ordering=wanted)
        ordering, why = _ordering(model, {"held_out_campaigns": None}, s)
        assert ordering == PROBABILITY and "holdout" in why


def test_a_bundle_without_uplift_scores_nan_uplift_and_says_why(trained, tmp_path):
    from training.scoring import score_features
    from training.uplift.columns import uplift_columns

    bundle = replace(trained.bundle, uplift_model=unavailable("no campaign members"))
    loaded = ModelBundle.load(bundle.save(tmp_path / "b"))
    assert loaded.uplift_summary()["uplift_available"] is False
    assert loaded.uplift_summary()["ordering"] == PROBABILITY
    rows = trained.validation.head(50).set_index("patient_id")
    cols = uplift_columns(rows, loaded.matrix(rows), loaded, small_settings())
    assert np.isnan(cols["uplift"]).all() and np.isnan(cols["uplift_sms"]).all()
    scored = score_features(rows, loaded, small_settings())
    assert scored["incremental_value"].isna().all()


def test_the_trained_bundle_carries_uplift_that_survives_a_round_trip(trained, tmp_path):
    from training.uplift.columns import uplift_columns

    bundle = trained.bundle
    assert bundle.uplift_model is not None and bundle.uplift_model.available
    summary = bundle.uplift_summary()
    assert summary["ordering"] in ("probability", "incremental_value") and summary["ordering_reason"]
    loaded = ModelBundle.load(bundle.save(tmp_path / "b"))
    rows = trained.validation.head(300).set_index("patient_id")
    x = bundle.matrix(rows)
    np.testing.assert_allclose(loaded.uplift_model.predict_matrix(x),
                               bundle.uplift_model.predict_matrix(x))
    cols = uplift_columns(rows, x, loaded, small_settings())
    assert np.isfinite(cols["uplift_sms"]).all()
    ok = cols["uplift_channel"] != "none"
    costs = small_settings().policy.channel_costs
    chosen = [cols[f"incremental_value_{c}"][i] for i, c in enumerate(cols["uplift_channel"]) if ok[i]]
    np.testing.assert_allclose(cols["incremental_value"][ok], chosen)
    revenue = rows["expected_revenue_per_visit"].to_numpy(float)
    np.testing.assert_allclose(cols["incremental_value_email"],
                               np.where(np.isnan(cols["incremental_value_email"]), np.nan,
                                        cols["uplift_email"] * np.nan_to_num(revenue)
                                        - costs["email"]))
    assert "uplift" in trained.evaluation and "oracle" in trained.evaluation["uplift"]
