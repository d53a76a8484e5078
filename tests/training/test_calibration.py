"""Calibration: each calibrator undoes a known distortion, keeps the model's order, and its
output is what both scoring and the bundle's own prediction return."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import features
from training.calibration import METHODS, make_calibrator
from training.context import add_context
from training.rank_score import TIE_WEIGHT, due_closeness
from training.scoring import score, score_features

from .conftest import small_settings

TOP = 5000


def _squared_outcomes(n: int = 50_000, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    raw = rng.uniform(0.0, 1.0, n)
    return raw, (rng.uniform(size=n) < raw**2).astype(int)


@pytest.mark.parametrize("method", METHODS)
def test_each_calibrator_maps_a_raw_half_to_a_quarter_when_outcomes_follow_its_square(method):
    raw, y = _squared_outcomes()
    calibrated = make_calibrator(method).fit(raw, y).transform(np.array([0.2, 0.5, 0.8]))
    np.testing.assert_allclose(calibrated[1], 0.25, atol=0.035)
    assert calibrated[0] < 0.2 and calibrated[2] < 0.8  # pulled down, as p = raw² is


@pytest.mark.parametrize("method", METHODS)
def test_each_calibrator_keeps_every_distinct_raw_probability_distinct_and_in_order(method):
    raw, y = _squared_outcomes()
    grid = np.sort(np.random.default_rng(5).uniform(0.001, 0.999, 20_000))
    out = make_calibrator(method).fit(raw, y).transform(grid)
    assert np.all(np.diff(out) > 0)


def _frame(small_sim, as_of, bundle):
    frame = features.build(small_sim.tables, as_of, small_settings())
    frame = frame.loc[frame["visits_lifetime"].fillna(0) > 0]
    return add_context(frame, small_sim.tables, as_of, bundle.window["horizon_days"])


def test_the_scored_probability_is_the_bundles_own_calibrated_prediction(small_sim, as_of,
                                                                         trained):
    bundle = trained.bundle
    frame = _frame(small_sim, as_of, bundle)
    scored = score_features(frame, bundle, small_settings())
    own = bundle.return_model.predict(frame)
    np.testing.assert_allclose(scored["return_probability"].to_numpy(), own, rtol=1e-6)
    raw = bundle.return_model.raw(frame)
    assert np.abs(own - raw).max() > 0.01  # the calibrator is applied, not skipped


class _Stub:
    """A calibrator whose output cannot be mistaken for a raw probability."""

    method = "stub"

    def transform(self, raw: np.ndarray) -> np.ndarray:
        return 0.25 + 0.5 * np.asarray(raw, dtype=float) ** 3


def test_a_stub_calibrators_output_reaches_the_scored_snapshot_and_the_prediction(
        small_sim, as_of, trained):
    model = replace(trained.bundle.return_model, calibrator=_Stub())
    bundle = replace(trained.bundle, return_model=model)
    frame = _frame(small_sim, as_of, bundle)
    expected = _Stub().transform(model.booster.predict(bundle.matrix(frame)))
    np.testing.assert_allclose(model.predict(frame), expected, rtol=1e-6)
    scored = score(small_sim.tables, as_of, bundle, small_settings())
    got = pd.Series(scored["return_probability"].to_numpy(), index=scored["patient_id"])
    np.testing.assert_allclose(got.reindex(frame.index).to_numpy(), expected, rtol=1e-6)


def test_the_top_of_a_clinics_ranking_has_almost_no_ties(small_sim, as_of, trained):
    scored = score(small_sim.tables, as_of, trained.bundle, small_settings())
    top = scored.nlargest(min(TOP, len(scored) // 4), "rank_score")  # a small clinic's top
    assert len(top) >= 300
    key = top["rank_score"].to_numpy()
    assert len(np.unique(key)) >= 0.99 * len(key)  # the target, in /rank's order
    bundle = trained.bundle
    margin = bundle.return_model.margin_matrix(bundle.matrix(top.set_index("patient_id")))
    # the booster itself ties some of them (identical leaves): the key resolves those ties.
    # How many depends on the data: with follow-up fatigue simulated, one pair among this
    # clinic's top 324 (it was over 1 % before); every tied pair must get distinct keys.
    assert len(np.unique(margin)) < len(key)
    tied = pd.Series(margin).duplicated(keep=False).to_numpy()
    assert len(np.unique(key[tied])) == tied.sum()
    p = top["return_probability"].to_numpy()
    assert len(np.unique(p)) == len(np.unique(margin))  # calibration adds no tie


def test_the_rank_score_is_the_models_order_with_ties_broken_by_closeness_to_due(
        small_sim, as_of, trained):
    scored = score(small_sim.tables, as_of, trained.bundle, small_settings())
    margin = trained.bundle.return_model.margin_matrix(trained.bundle.matrix(
        scored.set_index("patient_id")))
    closeness = due_closeness(scored["overdue_ratio"])
    np.testing.assert_allclose(scored["rank_score"], margin + TIE_WEIGHT * closeness,
                               rtol=0, atol=1e-12)
    by_key = np.argsort(-scored["rank_score"].to_numpy(), kind="stable")
    by_model = np.lexsort((-closeness, -margin))  # the model's order, then closeness
    gaps = np.abs(np.diff(margin[by_model]))
    separated = np.concatenate([[True], (gaps == 0) | (gaps > 2 * TIE_WEIGHT)])
    assert separated.all()  # no two different leaf sums closer than the tie weight here
    np.testing.assert_array_equal(margin[by_key], margin[by_model])
    np.testing.assert_array_equal(closeness[by_key], closeness[by_model])
    # calibrated probabilities never disagree with the key (strictly monotone calibration)
    p = scored["return_probability"].to_numpy()[by_key]
    assert np.all(np.diff(p) <= 0)


def test_due_closeness_is_one_when_due_symmetric_in_ratio_and_zero_when_unknown():
    got = due_closeness(np.array([1.0, 0.5, 2.0, 4.0, 0.0, np.nan]))
    assert got[0] == 1.0
    assert got[1] == pytest.approx(got[2]) and got[2] > got[3] > 0
    assert got[4] > 0 and got[5] == 0.0  # seen today: far from due, yet before unknown
