"""Drift: quiet on clinics of the same kind, loud and specific after a real shift."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.config import Settings
from serving.monitoring.drift import channel_mix, plan_columns, run_drift, summary_paths
from tests.serving.monitoring import clinics


def _frame(n: int, seed: int, *, score_shift: float = 0.0, age_shift: float = 0.0) -> pd.DataFrame:
    """A hand-made scored snapshot with a few real model inputs."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "patient_id": [f"p{i}" for i in range(n)],
        "days_since_last_visit": rng.gamma(2.0, 90.0, n),
        "visits_12m": rng.poisson(2.0, n),
        "age_years": rng.normal(45.0 + age_shift, 12.0, n),
        "last_service": rng.choice(["botox", "filler", "laser"], n),
        "return_probability": np.clip(rng.beta(2.0, 5.0, n) + score_shift, 0.0, 1.0),
        "best_channel": rng.choice(["sms", "email", "phone"], n, p=[0.5, 0.4, 0.1]),
    })


@pytest.fixture(scope="module")
def settings() -> Settings:
    return Settings()


@pytest.fixture(scope="module")
def same_kind_runs(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    """Every pair of three clinics simulated with the same settings and different seeds."""
    out = tmp_path_factory.mktemp("drift-same")
    frames = {seed: clinics.scored(clinics.clinic_tables(seed), settings) for seed in (0, 1, 2)}
    return [
        run_drift(frames[cur], frames[ref], settings, out, stem=f"drift_{cur}_vs_{ref}",
                  html=(cur, ref) == (1, 0))
        for cur, ref in ((1, 0), (2, 0), (2, 1))
    ]


def test_clinics_of_the_same_kind_raise_no_false_alarm(same_kind_runs: list[dict]) -> None:
    false_alarms = sum(run["flagged"] for run in same_kind_runs)
    assert false_alarms == 0, [run["reasons"] for run in same_kind_runs]
    for run in same_kind_runs:
        assert run["n_columns"] >= 30
        assert run["drifted_share"] < 0.3
        assert run["score"]["drifted"] is False
        assert run["channel_mix"]["shifted"] is False


def test_summary_file_holds_the_returned_summary_and_the_html_report_exists(
    same_kind_runs: list[dict],
) -> None:
    run = same_kind_runs[0]
    assert json.loads(Path(run["json_path"]).read_text()) == run
    html = Path(run["html_path"]).read_text()
    assert html.lstrip().startswith("<!DOCTYPE html>") and "days_since_last_visit" in html
    for column in run["columns"]:
        assert {"column", "meaning", "test", "statistic", "p_value", "drifted"} <= column.keys()
        assert (column["statistic"] is None) != (column["p_value"] is None)


def test_shifted_clinic_is_flagged_and_the_moved_characteristics_are_named(
    settings: Settings, tmp_path: Path
) -> None:
    tables = clinics.clinic_tables(1)
    for shift in (clinics.prices_up, clinics.location_closed, clinics.new_service,
                  clinics.older_population):
        tables = shift(tables)
    reference = clinics.scored(clinics.clinic_tables(0), settings)
    summary = run_drift(clinics.scored(tables, settings), reference, settings, tmp_path)

    assert summary["flagged"] is True
    assert summary["drifted_share"] >= settings.monitoring.drifted_share_threshold
    named = set(summary["drifted_columns"])
    assert "age_years" in named  # older population
    assert {"revenue_12m", "revenue_per_visit"} & named  # prices up
    assert "last_service" in named  # new service
    assert {"days_since_last_visit", "visits_12m", "visits_6m"} & named  # location closed
    assert any("Age at the as-of date" in reason for reason in summary["reasons"])


def test_score_shift_alone_raises_the_flag(settings: Settings, tmp_path: Path) -> None:
    summary = run_drift(_frame(2000, 1, score_shift=0.25), _frame(2000, 2), settings, tmp_path)
    assert summary["drifted_columns"] == []
    assert summary["score"]["drifted"] is True
    assert summary["score"]["statistic"] > settings.monitoring.score_drift_threshold
    assert summary["flagged"] is True
    assert summary["score"]["current_mean"] > summary["score"]["reference_mean"] + 0.2


def test_an_older_population_is_named_but_one_column_of_four_is_below_the_flag_share(
    tmp_path: Path,
) -> None:
    settings = Settings(monitoring={"drifted_share_threshold": 0.5})
    summary = run_drift(_frame(2000, 1, age_shift=12), _frame(2000, 2), settings, tmp_path)
    assert summary["drifted_columns"] == ["age_years"]
    assert summary["drifted_share"] == pytest.approx(0.25)
    assert summary["flagged"] is False


def test_channel_mix_shift_is_the_total_variation_between_channel_shares() -> None:
    reference = pd.DataFrame({"best_channel": ["sms", "email"] * 50})
    current = pd.DataFrame({"best_channel": ["sms"] * 90 + [None] * 10})
    mix = channel_mix(current, reference, threshold=0.1)
    assert mix["reference"]["sms"] == pytest.approx(0.5)
    assert mix["current"]["none"] == pytest.approx(0.1)
    assert mix["total_variation"] == pytest.approx(0.5)
    assert mix["shifted"] is True
    assert channel_mix(current.drop(columns="best_channel"), reference, 0.1) is None


def test_a_characteristic_missing_on_one_side_counts_as_drifted(
    settings: Settings, tmp_path: Path
) -> None:
    current, reference = _frame(1500, 1), _frame(1500, 2)
    current["email_sent"] = np.nan
    reference["email_sent"] = np.random.default_rng(0).poisson(1.0, len(reference))
    summary = run_drift(current, reference, settings, tmp_path)
    entry = next(c for c in summary["columns"] if c["column"] == "email_sent")
    assert entry["drifted"] is True and entry["test"] == "share missing"
    assert entry["statistic"] == pytest.approx(1.0)


def test_large_snapshots_are_sampled_and_inputs_left_untouched(tmp_path: Path) -> None:
    settings = Settings(monitoring={"current_rows": 500, "reference_rows": 400})
    current, reference = _frame(3000, 1), _frame(2000, 2)
    before = current.copy()
    summary = run_drift(current, reference, settings, tmp_path)
    assert (summary["tested_current_rows"], summary["tested_reference_rows"]) == (500, 400)
    assert (summary["current_rows"], summary["reference_rows"]) == (3000, 2000)
    pd.testing.assert_frame_equal(current, before)


def test_drift_files_of_a_snapshot_sit_beside_it() -> None:
    html, js = summary_paths(Path("/m/snapshots/scored_2026-06-30.parquet"))
    assert html == Path("/m/snapshots/drift_2026-06-30.html")
    assert js == Path("/m/snapshots/drift_2026-06-30.json")


def test_drift_command_compares_snapshots_and_fails_on_drift_only_when_asked(
    tmp_path: Path,
) -> None:
    from typer.testing import CliRunner

    from serving.cli.app import app

    current = tmp_path / "snapshots" / "scored_2026-06-30.parquet"
    current.parent.mkdir()
    _frame(1500, 1, score_shift=0.25).to_parquet(current)
    reference = tmp_path / "scored_2026-05-31.parquet"
    _frame(1500, 2).to_parquet(reference)
    runner = CliRunner()
    base = ["drift", "--current", str(current), "--reference", str(reference)]

    strict = runner.invoke(app, [*base, "--fail-on-drift"])
    assert strict.exit_code == 1, strict.output
    assert "DRIFT FLAGGED" in strict.output
    beside = json.loads((current.parent / "drift_2026-06-30.json").read_text())
    assert beside["flagged"] is True and beside["score"]["drifted"] is True
    assert (current.parent / "drift_2026-06-30.html").exists()

    relaxed = runner.invoke(app, [*base, "--out", str(tmp_path / "out")])
    assert relaxed.exit_code == 0, relaxed.output
    assert (tmp_path / "out" / "drift_2026-06-30.json").exists()


def test_drift_command_without_a_champion_exits_with_a_clear_error(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from serving.cli.app import app

    current = tmp_path / "scored_2026-06-30.parquet"
    _frame(200, 1).to_parquet(current)
    result = CliRunner().invoke(app, ["drift", "--current", str(current),
                                      "--models-dir", str(tmp_path / "empty")])
    assert result.exit_code == 2
    assert "reactivate train" in result.output


def test_an_unflagged_run_without_html_writes_only_the_summary(
    same_kind_runs: list[dict],
) -> None:
    for run in same_kind_runs[1:]:
        assert run["flagged"] is False and run["html_path"] is None
        json_path = Path(run["json_path"])
        assert json_path.exists()
        assert not json_path.with_suffix(".html").exists()


def test_a_flagged_run_writes_the_html_report_unasked(settings: Settings, tmp_path: Path) -> None:
    summary = run_drift(_frame(2000, 1, score_shift=0.25), _frame(2000, 2), settings, tmp_path)
    assert summary["flagged"] and Path(summary["html_path"]).exists()


def test_fast_statistics_equal_evidentlys_own(settings: Settings) -> None:
    from serving.monitoring.drift.checks import evidently_run, parse_results
    from serving.monitoring.drift.fast import fast_results

    cur, ref = _frame(3000, 1, age_shift=12), _frame(2500, 2)
    plan = plan_columns(cur, ref)
    theirs = parse_results(evidently_run(cur, ref, plan, True, settings).dict())
    ours = fast_results(cur, ref, plan, True, settings)
    assert set(ours) == set(theirs)
    for column, result in theirs.items():
        assert ours[column]["value"] == pytest.approx(result["value"], rel=1e-9, abs=1e-12)
        assert ours[column]["method"].lower() == str(result["method"]).lower()
        assert (ours[column]["status"] == "FAIL") == (str(result["status"]).endswith("FAIL"))


def test_the_cached_reference_profile_is_built_once_and_reused(tmp_path: Path) -> None:
    from serving.monitoring.drift.store import cached_reference

    calls = []

    def build() -> pd.DataFrame:
        calls.append(1)
        return _frame(50, 3)

    first = cached_reference("reference_x", build, tmp_path)
    second = cached_reference("reference_x", build, tmp_path)
    assert len(calls) == 1 and (tmp_path / "reference_x.parquet").exists()
    pd.testing.assert_frame_equal(first, second)
    cached_reference("reference_y", build, tmp_path)
    assert len(calls) == 2


def test_the_reference_channels_follow_the_channel_choice_scoring_makes(trained_clinic) -> None:  # noqa: ANN001
    """The bundle's reference gets each row's best channel from scoring itself: with an uplift
    model that is the channel of the highest incremental value, not the highest booking chance.
    A reference chosen by booking chance flagged a 34 % channel-mix shift at 1,000,000
    patients on the very data the model was trained on."""
    from features.vocabulary import CHANNELS
    from serving.monitoring.drift import bundle_reference
    from training.channel_choice import best_channels

    c = trained_clinic
    assert c.bundle.uplift_summary()["uplift_available"], "the fixture must carry uplift"
    ref = bundle_reference(c.bundle, c.settings)
    by_chance = best_channels(ref, c.bundle.predict_channels(ref)[
        [f"p_{ch}" for ch in CHANNELS]].to_numpy(), c.settings)
    assert (ref["best_channel"].to_numpy() != by_chance).mean() > 0.05  # the rules differ here
    mix = c.drift["channel_mix"]
    assert mix["shifted"] is False, mix
    assert mix["total_variation"] < 0.1


def test_a_flagged_nights_report_draws_what_moved_and_an_asked_one_everything(
    settings: Settings, tmp_path: Path
) -> None:
    """Flagged by the score alone, the unasked report draws the score, not the four
    unremarkable columns; asked for (``--html``), it draws every column."""
    cur, ref = _frame(2000, 1, score_shift=0.25), _frame(2000, 2)
    flagged = run_drift(cur, ref, settings, tmp_path, stem="flagged")
    asked = run_drift(cur, ref, settings, tmp_path, stem="asked", html=True)
    assert flagged["drifted_columns"] == [] and flagged["score"]["drifted"]
    assert flagged["columns"] == asked["columns"]  # the summary keeps every column
    unasked_html = Path(flagged["html_path"]).read_text()
    asked_html = Path(asked["html_path"]).read_text()
    assert "return_probability" in unasked_html
    for column in ("days_since_last_visit", "visits_12m", "age_years"):
        assert column in asked_html and column not in unasked_html, column
