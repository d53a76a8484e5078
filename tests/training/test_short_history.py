"""A clinic that changed systems recently: a bare visit log of 6-9 months trains, says what it
could not validate, and beats BG/NBD fitted on the same log, in its backtest and on the real
next 90 days."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.config import Settings
from features.export.loading import load
from training.baselines import bgnbd_probability
from training.fit import train
from training.labels import return_labels
from training.metrics import score_forecast
from training.scoring import score
from training.training_snapshots import HELD_OUT_PATIENTS

T = pd.Timestamp("2025-09-30")
HORIZON = 90


@pytest.fixture(scope="module")
def visit_log():
    """Completed visits of a simulated 3,000-patient clinic: patient_id, visit_at, revenue."""
    from features.simulator import simulate

    sim = simulate(3000, 3, start="2023-01-01", end="2025-12-31")
    v = sim.tables.visits
    return v.loc[v["status"] == "completed", ["patient_id", "visit_at", "revenue"]]


def _export(visit_log, days: int, folder):
    """The log cut to the ``days`` days ending on T, loaded as a bare export."""
    first = T - pd.Timedelta(days=days - 1)
    kept = visit_log.loc[(visit_log["visit_at"] >= first)
                         & (visit_log["visit_at"] < T + pd.Timedelta(days=1))]
    folder.mkdir()
    kept.to_csv(folder / "visits.csv", index=False)
    return load(str(folder), Settings()).tables


def test_nine_months_of_visits_train_a_model_that_beats_bgnbd(visit_log, tmp_path):
    tables = _export(visit_log, 270, tmp_path / "log")
    assert tables.contacts is None and not tables.has_patients_table
    settings = Settings()
    result = train(tables, T, settings)

    backtest = result.evaluation["return"]
    assert backtest["model"]["auc"] > backtest["bgnbd"]["auc"]
    assert backtest["model"]["brier"] < backtest["bgnbd"]["brier"]

    scored = score(tables, T, result.bundle, settings)
    ids = pd.Index(scored["patient_id"])
    future = visit_log.assign(status="completed")
    y = return_labels(future, ids, T, HORIZON).to_numpy()
    model = score_forecast(y, scored["return_probability"].to_numpy())
    bgnbd = score_forecast(y, bgnbd_probability(tables.visits, ids, T, HORIZON))
    assert model["auc"] > bgnbd["auc"] and model["brier"] < bgnbd["brier"]


@pytest.mark.parametrize("days", [180, 230, 270])
def test_six_to_nine_months_train_and_say_what_could_not_be_validated(visit_log, tmp_path, days):
    tables = _export(visit_log, days, tmp_path / "log")
    result = train(tables, T, Settings())
    window, said = result.bundle.window, result.evaluation["validation"]
    assert window["validation"] == [str((T - pd.Timedelta(days=HORIZON)).date())]
    assert window["validation_mode"] == said["mode"] == result.split.mode
    assert said["not_validated"] and window["not_validated"] == said["not_validated"]
    assert any("no window later than the training data" in s for s in said["not_validated"])
    assert said["model_choice"]["kept"] == result.split.mode
    if result.split.mode == HELD_OUT_PATIENTS:  # the backtest is out of fold, not in sample
        in_sample = result.bundle.predict_return(result.validation)
        assert not np.allclose(in_sample, result.p_validation)
