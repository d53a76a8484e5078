"""Model behaviour on a small simulated clinic (one shared training run)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.vocabulary import CHANNELS
from training.bundle import ModelBundle
from training.fit import train
from training.matrix import to_model_frame

from .conftest import small_settings


def test_the_model_beats_every_rule_and_is_calibrated_on_the_validation_window(trained):
    table = trained.evaluation["return"]
    for rule in ("recency", "overdue", "bgnbd"):
        assert table["model"]["auc"] > table[rule]["auc"]
        assert table["model"]["brier"] < table[rule]["brier"]
    assert table["model"]["ece"] < 0.06
    assert table["oracle"]["auc"] >= table["model"]["auc"] - 0.01


def test_validation_rows_lie_after_every_training_label(trained):
    split, h = trained.split, trained.bundle.settings["horizon_days"]
    last_train_label_day = max(split.train) + pd.Timedelta(days=h)
    assert last_train_label_day <= min(split.calibration)
    assert max(split.calibration) + pd.Timedelta(days=h) <= min(split.validation)
    assert set(trained.validation["as_of"]) == set(split.validation)


def test_same_data_and_seed_give_the_same_scores(small_sim, as_of, trained):
    again = train(small_sim.tables, as_of, small_settings())
    rows = trained.validation
    np.testing.assert_array_equal(trained.bundle.predict_return(rows),
                                  again.bundle.predict_return(rows))
    pd.testing.assert_frame_equal(trained.bundle.predict_channels(rows),
                                  again.bundle.predict_channels(rows))


def test_a_patient_who_answered_every_text_is_not_rated_below_one_who_ignored_them(trained):
    rows = trained.validation.head(300).copy()
    sent = 4.0
    answered, ignored = rows.copy(), rows.copy()
    for frame, responses in ((answered, sent), (ignored, 0.0)):
        frame["sms_sent"] = sent
        frame["sms_responses"] = responses
        frame["sms_response_rate"] = 0.8 if responses else 0.02
        frame["sms_attempts_since_response"] = 0.0 if responses else sent
        frame["sms_days_since_last_contact"] = 20.0
        frame["sms_days_since_last_response"] = 20.0 if responses else np.nan
    model = trained.bundle
    p_answered = model.predict_channels(answered)
    p_ignored = model.predict_channels(ignored)
    assert (p_answered["p_sms"].to_numpy() >= p_ignored["p_sms"].to_numpy() - 1e-12).all()
    assert p_answered["p_sms"].mean() > p_ignored["p_sms"].mean()


def test_the_channel_choice_closes_most_of_the_gap_to_the_oracle(trained):
    channels = trained.evaluation["channels"]
    assert channels["model"] > channels["random"]
    assert channels["gap_closed"] > 0.5


def test_a_saved_bundle_loads_and_predicts_the_same(trained, tmp_path):
    path = trained.bundle.save(tmp_path / "bundle")
    loaded = ModelBundle.load(path)
    rows = trained.validation
    np.testing.assert_allclose(loaded.predict_return(rows), trained.bundle.predict_return(rows))
    pd.testing.assert_frame_equal(loaded.predict_channels(rows),
                                  trained.bundle.predict_channels(rows))
    assert loaded.window == trained.bundle.window
    assert set(loaded.reference.columns) >= {"clinic_id", "return_probability", *loaded.features}


def test_numpy_codes_and_pandas_categories_give_the_same_predictions(trained):
    bundle = trained.bundle
    rows = trained.validation.head(500).copy()
    rows.loc[rows.index[:5], "last_service"] = "a service never seen"
    frame = to_model_frame(rows, bundle.features, bundle.levels)
    booster = bundle.return_model.booster
    np.testing.assert_allclose(booster.predict(frame), booster.predict(bundle.matrix(rows)))


def test_explanations_add_up_to_the_raw_log_odds(trained):
    bundle = trained.bundle
    rows = trained.validation.head(50)
    contrib = bundle.explain(rows)
    assert list(contrib.columns) == [*bundle.features, "bias"]
    raw = bundle.return_model.raw(rows)
    np.testing.assert_allclose(contrib.sum(axis=1), np.log(raw / (1 - raw)), rtol=1e-6)


@pytest.mark.parametrize("channel", CHANNELS)
def test_every_channel_gets_a_probability(trained, channel):
    p = trained.bundle.predict_channels(trained.validation.head(100))
    assert p[f"p_{channel}"].between(0, 1).all()
