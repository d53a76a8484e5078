"""Metrics, calibrators and baselines on small hand-checked inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.baselines import RuleBaseline, bgnbd_probability, rfm_summary, rule_ranking
from training.calibration import calibrator_from_dict, make_calibrator
from training.metrics import expected_calibration_error, score_forecast, top_share

from .conftest import make_tables


def test_ece_is_the_row_weighted_gap_between_rate_and_forecast_per_bin():
    y = np.array([1, 0, 0, 0, 1, 1])
    p = np.array([0.05, 0.05, 0.05, 0.05, 0.95, 0.95])
    # bin 0: 4 rows, rate 0.25 vs 0.05 -> 0.2 x 4; bin 9: 2 rows, rate 1 vs 0.95 -> 0.05 x 2
    assert expected_calibration_error(y, p) == pytest.approx((0.8 + 0.1) / 6)


def test_top_decile_lift_and_capture_of_a_perfect_ranking():
    y = np.r_[np.ones(10), np.zeros(90)]
    lift, capture = top_share(y, -np.arange(100))
    assert lift == pytest.approx(10.0)
    assert capture == pytest.approx(1.0)


def test_a_ranking_score_replaces_the_probability_for_ranking_metrics_only():
    y = np.array([0, 0, 1, 1])
    flat = np.full(4, 0.5)
    m = score_forecast(y, flat, rank=np.array([1, 2, 3, 4]))
    assert m["auc"] == 1.0
    assert m["brier"] == pytest.approx(0.25)


@pytest.mark.parametrize("method", ["isotonic", "platt"])
def test_calibrators_round_trip_through_json_state(method):
    rng = np.random.default_rng(0)
    raw = rng.uniform(size=2000)
    y = (rng.uniform(size=2000) < raw**2).astype(int)
    cal = make_calibrator(method).fit(raw, y)
    again = calibrator_from_dict(cal.to_dict())
    grid = np.linspace(0, 1, 11)
    np.testing.assert_allclose(cal.transform(grid), again.transform(grid))
    assert np.all(np.diff(cal.transform(grid)) >= 0)
    assert cal.transform(np.array([0.9]))[0] > cal.transform(np.array([0.3]))[0]


def test_a_rule_learns_which_direction_predicts_returns():
    frame = pd.DataFrame({"days_since_last_visit": np.arange(200.0)})
    y = (np.arange(200) < 80).astype(int)  # recent patients return
    rule = RuleBaseline("recency", "days_since_last_visit").fit(frame, y)
    p, rank = rule.predict(frame)
    assert rule.sign_ == -1.0
    assert p[0] > p[-1]
    assert rank[0] > rank[-1]


def test_rule_ranking_with_the_learned_direction_is_the_fitted_rules_ranking():
    days = np.arange(200.0)
    days[[3, 50]] = np.nan  # no completed visit yet: counted at the median
    frame = pd.DataFrame({"days_since_last_visit": days})
    y = (np.arange(200) < 80).astype(int)
    rule = RuleBaseline("recency", "days_since_last_visit").fit(frame, y)
    _, rank = rule.predict(frame)
    shared = rule_ranking(frame, "days_since_last_visit", rule.sign_)
    np.testing.assert_array_equal(shared, rank)
    assert shared[3] == -np.nanmedian(days)


def test_rfm_summary_counts_repeat_visit_days_in_weeks():
    tables = make_tables([
        ("p1", "2024-01-01 09:00", "completed"), ("p1", "2024-01-01 15:00", "completed"),
        ("p1", "2024-01-15", "completed"), ("p1", "2024-02-01", "no_show"),
        ("p1", "2024-03-01", "completed"),  # after T: unknown
    ])
    rfm = rfm_summary(tables.visits, pd.Index(["p1", "nobody"]), "2024-01-28")
    assert rfm.loc["p1"].tolist() == [1.0, 2.0, 4.0]  # 1 repeat day, 14 days, 28 days
    assert rfm.loc["nobody"].isna().all()


def test_bgnbd_gives_a_recent_regular_a_higher_return_chance_than_a_long_lapsed_one():
    rng = np.random.default_rng(3)
    visits = []
    for i in range(300):  # a population of regulars with a 30-90 day rhythm
        start = pd.Timestamp("2022-01-01") + pd.Timedelta(days=int(rng.integers(0, 60)))
        gaps = rng.integers(30, 90, size=int(rng.integers(2, 10)))
        for day in np.cumsum(np.r_[0, gaps]):
            visits.append((f"p{i}", str((start + pd.Timedelta(days=int(day))).date()),
                           "completed"))
    visits += [("recent", "2023-01-01", "completed"), ("recent", "2023-03-01", "completed"),
               ("recent", "2023-05-01", "completed"), ("recent", "2023-06-25", "completed")]
    visits += [("lapsed", "2022-01-01", "completed"), ("lapsed", "2022-03-01", "completed"),
               ("lapsed", "2022-05-01", "completed"), ("lapsed", "2022-06-25", "completed")]
    tables = make_tables(visits)
    p = bgnbd_probability(tables.visits, pd.Index(["recent", "lapsed"]), "2023-06-30", 90)
    assert 0.0 <= p[1] < p[0] <= 1.0

def test_bgnbd_that_does_not_converge_is_refitted_with_a_stronger_penalty() -> None:
    from training.baselines import _fit_bgnbd

    class Fussy:
        """Fails like lifetimes' ConvergenceError unless the penalty is strong."""

        def __init__(self, penalizer_coef: float) -> None:
            self.penalizer_coef = penalizer_coef

        def fit(self, *args: object) -> None:
            if self.penalizer_coef < 0.1:
                raise ArithmeticError("did not converge")

    rfm = pd.DataFrame({"frequency": [1.0], "recency": [2.0], "T": [3.0]})
    assert _fit_bgnbd(Fussy, rfm, 0.001).penalizer_coef == 0.1
