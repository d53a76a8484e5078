"""What the planner is fed from a served snapshot (hand-made snapshots, no HTTP)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.config import Settings
from features.vocabulary import CHANNELS
from serving.targeting import sequence_inputs as si
from serving.targeting.index import build_index
from serving.targeting.outcome_policy import kept_off_ids
from tests.serving.frames import snapshot
from training.attempt_model import AttemptFactors


def test_uplift_columns_become_the_planner_uplift_and_missing_rows_get_no_channel():
    frame = snapshot(4, expected_revenue_per_visit=[100.0, 200.0, np.nan, 50.0])
    for i, c in enumerate(CHANNELS):
        frame[f"uplift_{c}"] = 0.01 * (i + 1)
    index = build_index(frame, Settings())
    rows = np.array([1, -1, 3])
    permitted = np.ones((3, len(CHANNELS)), bool)
    x = si.build_inputs(index, rows, permitted, np.zeros(3), ["sms", "email"])
    assert x.uplift is not None and x.uplift[0].tolist() == [0.01, 0.02, 0.03, 0.04]
    assert np.isnan(x.uplift[1]).all()
    assert x.value[[0, 2]].tolist() == [200.0, 50.0]
    assert x.permitted.tolist() == [[True, True, False, False], [False] * 4,
                                    [True, True, False, False]]
    no_uplift = build_index(snapshot(4), Settings())
    assert si.build_inputs(no_uplift, rows, permitted, np.zeros(3), None).uplift is None


def test_a_running_sequence_ignores_the_spacing_rule_but_never_do_not_contact():
    frame = snapshot(3, days_since_last_contact=[2.0, 2.0, 200.0],
                     do_not_contact=pd.array([False, True, False], dtype="boolean"))
    index = build_index(frame, Settings())
    assert index.channel_bits.tolist()[:2] == [0, 0]  # both blocked for a new list
    allowed = si.never_permitted(index, np.array([0, 1, 2]))
    assert allowed.any(axis=1).tolist() == [True, False, True]


def test_the_attempt_model_applies_the_bundles_factors():
    class Bundle:
        attempt_factors = AttemptFactors(0.5, 0.8, 400, learned=True)

    model = si.attempt_model(Bundle())
    p = model(np.array([[0.2, 0.1, 0.1, 0.1]]), np.array([[1, 0, 0, 0]]), 2)
    assert np.allclose(p, [[0.1, 0.08, 0.08, 0.08]])


def test_resting_members_are_kept_off_through_their_last_day():
    resting = pd.Series(np.array(["2026-03-10", "2026-03-01"], "M8[D]"), index=["b", "c"])
    assert list(kept_off_ids(resting, pd.Timestamp("2026-03-05").date())) == ["b"]
    assert list(kept_off_ids(resting, pd.Timestamp("2026-03-10").date())) == ["b"]
    assert list(kept_off_ids(resting, pd.Timestamp("2026-03-11").date())) == []
