"""The backtest's groups: practice types when the truth names them, clinics otherwise."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.simulator.truth_files import Truth
from training.backtest_table import group_markdown
from training.evaluation import return_table
from training.group_evaluation import by_group, row_groups
from training.metrics import score_forecast

ROWS = pd.DataFrame({"clinic_id": ["dental-1", "physio-1", "dental-2", None],
                     "label": [1, 0, 1, 0]})
EMPTY = pd.DataFrame(columns=["as_of", "patient_id"])


def test_rows_are_grouped_by_the_practice_type_the_truth_gives_each_clinic():
    truth = Truth(EMPTY, EMPTY, {"dental-1": "dental", "dental-2": "dental",
                                 "physio-1": "physio"})
    assert list(row_groups(ROWS, truth)) == ["dental", "physio", "dental", "unknown"]


def test_without_practice_types_each_clinic_is_its_own_group():
    assert list(row_groups(ROWS, None)) == ["dental-1", "physio-1", "dental-2", "default"]


def test_a_single_clinic_has_no_breakdown():
    one = ROWS.assign(clinic_id="aesthetics-1")
    assert row_groups(one, None) is None
    assert by_group(one, one, ROWS["label"].to_numpy(float), EMPTY, 90, None) is None


def test_the_markdown_table_has_a_row_per_group_and_forecaster():
    metrics = {"rows": 10, "base_rate": 0.3, "auc": 0.9, "brier": 0.1, "ece": 0.01}
    md = group_markdown({"by_practice": {"dental": {"model": metrics, "oracle": metrics}}})
    assert "| dental | model | 10 | 0.300 | 0.900 | 0.1000 | 0.0100 |" in md
    assert md.count("| dental |") == 2


def test_forecasts_made_once_are_scored_as_given_in_both_tables():
    # Training makes the forecasts once (BG/NBD fitted once per validation date) and scores
    # them overall and per practice type; no forecaster is re-fitted on the (empty) visits.
    y = ROWS["label"].to_numpy()
    p = np.array([0.9, 0.2, 0.7, 0.4])
    forecasts = {"model": (p, None, {})}
    table = return_table(ROWS, ROWS, p, EMPTY, 90, None, forecasts=forecasts)
    assert table == {"model": score_forecast(y, p, None)}
    groups = by_group(ROWS, ROWS, p, EMPTY, 90, None, forecasts=forecasts)
    assert set(groups) == {"dental-1", "physio-1", "dental-2", "default", "all"}
    assert groups["all"] == {"model": score_forecast(y, p, None)}
