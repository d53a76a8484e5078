"""The sequence evaluation's strategies and figures, on a hand-made truth."""

from __future__ import annotations

import numpy as np
import pandas as pd

from serving.targeting.sequence_evaluation import (
    candidate_orders,
    evaluate_sequences,
    fixed_order,
    planned_channels,
    strategy_channels,
)

SMS, EMAIL, PHONE, MAIL = range(4)
GAIN = np.array([0.1, 0.05, 0.2, 0.0])  # what an attempt on each channel adds ...
FADE = 0.5  # ... halved per earlier attempt on the same channel


def hand_truth(rows: np.ndarray, seq: list[tuple[int, int]]) -> np.ndarray:
    """0.1 without contact plus each attempt's gain, faded by repeats of its channel."""
    p, seen = 0.1, np.zeros(4)
    for channel, _ in seq:
        p += GAIN[channel] * FADE ** seen[channel]
        seen[channel] += 1
    return np.full(len(rows), p)


def test_the_fixed_order_drops_channels_the_patient_does_not_allow_and_repeats_the_rest():
    assert fixed_order(np.array([True, True, True, True]), 5) == (SMS, EMAIL, SMS, PHONE, MAIL)
    assert fixed_order(np.array([False, True, True, False]), 5) == (
        EMAIL, PHONE, EMAIL, PHONE, EMAIL)
    assert fixed_order(np.array([True, False, False, False]), 3) == (SMS, SMS, SMS)


def test_every_order_of_every_subset_of_four_channels_is_a_candidate():
    orders = candidate_orders(4)
    assert len(orders) == 4 + 12 + 24 + 24 == len(set(orders))


def test_the_plan_gives_each_member_its_channels_and_everyone_one_schedule():
    day = np.datetime64("2026-11-01")
    plan = pd.DataFrame({"member": [0, 0, 2], "attempt": [1, 2, 1],
                         "channel": ["sms", "email", "phone"],
                         "send_on": [day, day + 7, day]})
    channels, offsets = planned_channels(plan, 3)
    assert channels == [(SMS, EMAIL), (), (PHONE,)]
    assert offsets.tolist() == [0, 7]


def test_strategies_differ_only_in_channels_and_keep_the_planned_attempt_count():
    allowed = np.array([[True, True, False, True]])
    s = strategy_channels([(EMAIL, SMS, MAIL)], allowed)
    assert s["same channel"] == [(EMAIL, EMAIL, EMAIL)]
    assert s["fixed order"] == [(SMS, EMAIL, SMS)]
    assert s["single contact"] == [(EMAIL,)]


def test_figures_on_a_hand_truth():
    """Planned text, email: 0.1 + 0.1 + 0.05 = 0.25; the best two attempts are phone then
    text or phone twice (0.1 + 0.2 + 0.1 = 0.4), so the plan brings half the best's gain."""
    allowed = np.ones((2, 4), bool)
    result = evaluate_sequences([(SMS, EMAIL), ()], allowed, np.array([0, 7]), hand_truth)
    assert result["members"] == 1  # the member without a plan is left out
    s = result["strategies"]
    assert np.isclose(result["no_contact"], 0.1)
    assert np.isclose(s["planned"]["mean_p_book"], 0.25)
    assert np.isclose(s["planned"]["extra_per_1000"], 150.0)
    assert np.isclose(s["same channel"]["mean_p_book"], 0.25)  # 0.1 + 0.1 + 0.05
    assert np.isclose(s["single contact"]["mean_p_book"], 0.2)
    assert np.isclose(s["best found"]["mean_p_book"], 0.4)
    assert np.isclose(s["planned"]["share_of_best"], 0.5)
    assert np.isclose(s["best found"]["share_of_best"], 1.0)


def test_the_best_found_only_uses_channels_the_member_allows():
    allowed = np.array([[True, True, False, False]])  # no phone: text then email is best
    result = evaluate_sequences([(EMAIL, EMAIL)], allowed, np.array([0, 7]), hand_truth)
    assert np.isclose(result["strategies"]["best found"]["mean_p_book"], 0.1 + 0.1 + 0.05)
    assert np.isclose(result["strategies"]["planned"]["mean_p_book"], 0.1 + 0.05 + 0.025)
