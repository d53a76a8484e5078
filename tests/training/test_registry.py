"""Registry promotion logic against a real MLflow SQLite store in a temporary folder."""

from __future__ import annotations

from dataclasses import replace

import lightgbm as lgb
import numpy as np
import pytest

from training.registry import (
    NoChampion,
    compare_with_champion,
    list_versions,
    load_champion,
    log_and_register,
)

from .conftest import small_settings


def _weakened(result):
    """The same run with a one-tree return model: clearly worse on the same rows."""
    booster = result.bundle.return_model.booster
    weak = lgb.Booster(model_str=booster.model_to_string(num_iteration=1))
    model = replace(result.bundle.return_model, booster=weak)
    return replace(result, bundle=replace(result.bundle, return_model=model))


def _load_pyfunc(models_dir):
    """The champion through MLflow's generic loader (``models:/reactivation@champion``)."""
    import mlflow

    from training.tracking import tracking_uri

    previous = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    mlflow.set_tracking_uri(tracking_uri(models_dir))
    mlflow.set_registry_uri(tracking_uri(models_dir))
    try:
        return mlflow.pyfunc.load_model("models:/reactivation@champion")
    finally:
        mlflow.set_tracking_uri(previous[0])
        mlflow.set_registry_uri(previous[1])


def test_no_store_means_no_champion(tmp_path):
    with pytest.raises(NoChampion):
        load_champion(small_settings(tmp_path / "empty"))
    assert list_versions(small_settings(tmp_path / "empty")).empty


def test_champion_moves_only_on_evidence_or_on_request(trained, models_dir):
    settings = small_settings(models_dir)
    first = log_and_register(trained, settings)
    assert (first.version, first.promoted, first.reason) == ("1", True, "first version")

    weak = _weakened(trained)
    second = log_and_register(weak, settings)
    assert not second.promoted
    assert "does not beat champion v1" in second.reason
    assert second.comparison["champion_auc"] > second.comparison["challenger_auc"]
    bundle, version = load_champion(settings)
    assert version == "1"

    forced = log_and_register(weak, settings, promote=True)
    assert forced.promoted and forced.reason == "--promote"
    bundle, version = load_champion(settings)
    assert version == "3"
    rows = trained.validation.head(200)
    np.testing.assert_allclose(bundle.predict_return(rows), weak.bundle.predict_return(rows))

    better = log_and_register(trained, settings)
    assert better.promoted and "beats champion v3" in better.reason
    assert load_champion(settings)[1] == "4"

    pyfunc_scores = _load_pyfunc(models_dir).predict(rows)
    np.testing.assert_allclose(pyfunc_scores["return_probability"],
                               trained.bundle.predict_return(rows))
    assert {"p_sms", "p_email", "p_phone", "p_mail"} <= set(pyfunc_scores.columns)

    versions = list_versions(settings)
    assert versions["version"].tolist() == [4, 3, 2, 1]
    assert versions.loc[versions["version"] == 4, "aliases"].item() == "champion"
    assert versions["auc"].notna().all()
    assert (models_dir / "artifacts").is_dir()


def test_champion_comparison_reports_metric_both_values_and_the_verdict(trained, models_dir):
    settings = small_settings(models_dir)
    rows = trained.validation
    alone = compare_with_champion(trained.bundle, rows, settings)
    assert (alone.champion_version, alone.champion_value, alone.challenger_wins) == (
        None, None, True)
    assert alone.reason == "first version" and alone.metric == "auc"

    log_and_register(trained, settings)
    weak = _weakened(trained).bundle
    against = compare_with_champion(weak, rows, settings)
    assert against.champion_version == "1" and not against.challenger_wins
    assert against.champion_value > against.challenger_value
    assert against.champion_scores["auc"] == against.champion_value
    assert set(against.as_tags()) == {"challenger_auc", "champion_auc"}
    assert "does not beat champion v1" in against.reason

    brier = compare_with_champion(weak, rows, small_settings(models_dir, promotion_metric="brier"))
    assert brier.metric == "brier" and not brier.challenger_wins
    assert brier.champion_value < brier.challenger_value  # lower is better for Brier
