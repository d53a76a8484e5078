"""Global SHAP summaries of a trained bundle (used by the notebook and the report)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from training.explanation_summary import (
    explained_sample,
    feature_meaning,
    global_importance,
    strongest_contributions,
)


def test_importance_ranks_inputs_by_mean_absolute_contribution_ignoring_the_bias():
    contrib = pd.DataFrame({"a": [0.1, -0.3], "b": [1.0, -1.0], "c": [0.0, 0.0],
                            "bias": [5.0, 5.0]})
    table = global_importance(contrib)
    assert table["feature"].tolist() == ["b", "a", "c"]
    np.testing.assert_allclose(table["mean_abs_shap"], [1.0, 0.2, 0.0])
    np.testing.assert_allclose(table["share"], [1.0 / 1.2, 0.2 / 1.2, 0.0])


def test_a_patients_strongest_contributions_keep_their_sign_and_meaning():
    row = pd.Series({"days_since_last_visit": -0.4, "age_years": 0.1, "unknown_col": 0.9,
                     "bias": -2.0})
    top = strongest_contributions(row, k=2)
    assert top["feature"].tolist() == ["unknown_col", "days_since_last_visit"]
    assert top["contribution"].tolist() == [0.9, -0.4]
    assert top["meaning"].tolist() == [
        "unknown col", feature_meaning("days_since_last_visit")]
    assert "last completed visit" in top["meaning"].iloc[1]


def test_the_sample_is_seeded_and_its_contributions_add_up_to_the_raw_score(trained):
    rows = trained.validation
    sample, contrib = explained_sample(trained.bundle, rows, 50, seed=3)
    again, _ = explained_sample(trained.bundle, rows, 50, seed=3)
    assert len(sample) == 50 and sample.index.equals(again.index)
    raw = trained.bundle.return_model.booster.predict(trained.bundle.matrix(sample),
                                                      raw_score=True)
    np.testing.assert_allclose(contrib.sum(axis=1).to_numpy(), raw, rtol=1e-6, atol=1e-6)
    table = global_importance(contrib)
    assert set(table["feature"]) == set(trained.bundle.features)
