"""The training commands end to end on a small demo clinic written to disk."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from serving.cli import training_commands as cli_training
from training.scored_snapshot import latest_snapshot

CONFIG = """
[training]
max_rounds = 60
channel_max_rounds = 40
max_snapshots = 8
early_stopping_rounds = 15
min_child_samples = 30
"""


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    cli_training.register(app)
    return app


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from features.simulator import write_demo

    folder = tmp_path_factory.mktemp("demo")
    sim = write_demo(folder, n_patients=1200, seed=5, truth_as_of=["2026-08-02"])
    config = folder.parent / "settings.toml"
    config.write_text(CONFIG)
    return folder, config, pd.Timestamp(sim.tables.export_date).normalize()


def score_through_the_library(folder, config, models, day, tmp_path):
    """The notebook's path: champion, score, finish, write (no command line involved)."""
    from features.config import Settings
    from features.export.loading import load
    from training.registry import load_champion
    from training.scored_snapshot import write_scored_snapshot
    from training.scoring import score
    from training.snapshot_schema import finish_snapshot

    settings = Settings.from_file(config, models_dir=models)
    bundle, version = load_champion(settings)
    tables = load(str(folder), settings).tables
    snapshot = finish_snapshot(score(tables, day, bundle, settings), day, version)
    return write_scored_snapshot(snapshot, tmp_path / "library" / f"scored_{day.date()}.parquet")


def test_train_then_score_writes_the_library_s_snapshot_where_the_service_finds_it(app, demo, tmp_path):
    folder, config, export_day = demo
    models = tmp_path / "models"
    runner = CliRunner()
    trained = runner.invoke(app, ["train", str(folder), "--models-dir", str(models),
                                  "--config", str(config), "--truth", str(folder / "truth")])
    assert trained.exit_code == 0, trained.output
    assert "oracle" in trained.output and "BG/NBD" in trained.output
    assert "v1 (champion: first version)" in trained.output

    scored = runner.invoke(app, ["score", str(folder), "--config", str(config)],
                           env={"REACTIVATE_MODELS_DIR": str(models)})
    assert scored.exit_code == 0, scored.output
    path = latest_snapshot(models)
    assert path is not None and path.name == f"scored_{export_day.date()}.parquet"
    frame = pd.read_parquet(path)
    assert frame["model_version"].eq("1").all()
    assert frame["return_probability"].between(0, 1).all()
    library = score_through_the_library(folder, config, models, export_day, tmp_path)
    pd.testing.assert_frame_equal(pd.read_parquet(library), frame)

    csv = tmp_path / "out.csv"
    assert runner.invoke(app, ["score", str(folder), "--models-dir", str(models), "--as-of",
                               "2026-06-30", "--out", str(csv)]).exit_code == 0
    assert pd.read_csv(csv)["as_of"].eq("2026-06-30").all()

    listed = runner.invoke(app, ["models", "--models-dir", str(models)])
    assert listed.exit_code == 0 and "champion" in listed.output

    out = tmp_path / "figures.json"
    evaluated = runner.invoke(app, ["evaluate", str(folder), "--models-dir", str(models),
                                    "--config", str(config), "--out", str(out)])
    assert evaluated.exit_code == 0, evaluated.output
    assert "champion v1" in json.loads(out.read_text())["return"]
    assert "against the champion: auc" in " ".join(evaluated.output.split())


def test_evaluate_saves_the_figures_as_json_with_the_oracle_from_the_given_truth(
    app, demo, tmp_path
):
    folder, config, _ = demo
    out = tmp_path / "figures.json"
    result = CliRunner().invoke(app, ["evaluate", str(folder), "--models-dir",
                                      str(tmp_path / "m"), "--config", str(config),
                                      "--out", str(out), "--truth", str(folder / "truth"),
                                      "--sequence-members", "40"])
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text())
    assert set(figures["return"]) >= {"model", "recency", "overdue", "bgnbd", "oracle"}
    sequences = figures["sequences"]  # issue 16: planned sequences against the truth
    assert 0 < sequences["members"] <= 40 and sequences["clinic_id"] == "demo"
    means = {k: v["mean_p_book"] for k, v in sequences["strategies"].items()}
    assert all(means["best found"] >= m - 1e-12 for m in means.values())
    assert all(m >= sequences["no_contact"] - 1e-12 for m in means.values())
    assert "Outreach sequences on demo" in " ".join(result.output.split())
    assert figures["window"]["validation"] == ["2026-08-02"]
    uplift = figures["uplift"]  # issue 12: the uplift backtest, printed and saved
    said = " ".join(result.output.split())
    assert f"default ordering: {uplift['ordering']}" in said
    if uplift["available"]:
        oracle = uplift["oracle"]["rankings"]
        assert set(oracle) == {"model", "return_probability", "days_since_last_visit",
                               "random", "oracle"}
        for key in ("extra_bookings", "qini", "auuc", "qini_normalised", "uplift_at_10",
                    "uplift_at_20", "uplift_at_30"):
            assert all(key in row for row in oracle.values())
        assert "Uplift against the truth" in said and "uplift at 30%" in said
        assert "normalisation: Qini and AUUC" in said


def test_evaluate_without_truth_has_no_oracle_even_beside_a_truth_folder(app, demo, tmp_path):
    folder, config, _ = demo
    out = tmp_path / "figures.json"
    result = CliRunner().invoke(app, ["evaluate", str(folder), "--models-dir",
                                      str(tmp_path / "m"), "--config", str(config),
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text())
    assert "oracle" not in figures["return"] and "model" in figures["return"]
    assert "sequences" not in figures  # the sequence evaluation needs the truth too


def test_evaluate_names_why_it_skips_the_sequences_of_a_clinic_the_demo_lacks(
        app, demo, tmp_path):
    folder, config, _ = demo
    out = tmp_path / "figures.json"
    result = CliRunner().invoke(app, ["evaluate", str(folder), "--models-dir",
                                      str(tmp_path / "m"), "--config", str(config),
                                      "--out", str(out), "--truth", str(folder / "truth"),
                                      "--sequence-clinic", "elsewhere-9"])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "sequence evaluation skipped:" in said and "'elsewhere-9'" in said
    figures = json.loads(out.read_text())
    assert figures["sequences"]["available"] is False
    assert "oracle" in figures["return"]  # the rest of the evaluation stands


def test_evaluate_with_a_folder_that_is_not_a_truth_folder_fails_naming_it(app, demo, tmp_path):
    folder, config, _ = demo
    result = CliRunner().invoke(app, ["evaluate", str(folder), "--models-dir",
                                      str(tmp_path / "m"), "--config", str(config),
                                      "--truth", str(folder)])
    assert result.exit_code == 2
    assert "returns.parquet" in result.output and "not a demo truth folder" in result.output


def test_score_without_a_trained_model_says_what_to_do(app, demo, tmp_path):
    folder, _, _ = demo
    result = CliRunner().invoke(app, ["score", str(folder), "--models-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "run `reactivate train` first" in " ".join(result.output.split())


@pytest.fixture(scope="module")
def plain_champion(app, demo, tmp_path_factory):
    """A champion trained on the demo clinic cut to one service and no contacts table."""
    folder, config, _ = demo
    plain = tmp_path_factory.mktemp("plain")
    visits = pd.read_csv(folder / "visits.csv", dtype=str).assign(service="consultation")
    visits.to_csv(plain / "visits.csv", index=False)
    (plain / "patients.csv").write_text((folder / "patients.csv").read_text())
    models = plain.parent / f"{plain.name}-models"
    trained = CliRunner().invoke(app, ["train", str(plain), "--models-dir", str(models),
                                       "--config", str(config)])
    return trained, models


def test_a_single_service_export_without_contacts_trains_and_says_what_it_lacks(plain_champion):
    trained, _ = plain_champion
    assert trained.exit_code == 0, trained.output
    said = " ".join(trained.output.split())
    assert "note: contacts: no table: no channel model and no uplift model" in said
    assert "note: visits.service: 1 distinct value" in said
    assert "champion" in said


@pytest.mark.parametrize("patients, visits", [
    (1, "patient_id,visit_at\np1,2024-01-05\np1,2024-04-05\np1,2024-08-05\n"),  # one patient
    (3, "patient_id,visit_at\np1,2024-01-05\np2,2024-01-05\np3,2024-01-05\n"),  # one day
], ids=["one patient", "every visit on one day"])
def test_an_export_too_small_to_train_on_is_scored_by_an_existing_champion(
    app, plain_champion, tmp_path, patients, visits
):
    _, models = plain_champion
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "visits.csv").write_text(visits)
    refused = CliRunner().invoke(app, ["train", str(folder), "--models-dir",
                                       str(tmp_path / "own-models")])
    assert refused.exit_code == 2 and "A trained model can still score this export" in " ".join(
        refused.output.split())
    out = tmp_path / "scored.parquet"
    scored = CliRunner().invoke(app, ["score", str(folder), "--models-dir", str(models),
                                      "--out", str(out)])
    assert scored.exit_code == 0, scored.output
    frame = pd.read_parquet(out)
    assert len(frame) == patients
    assert frame["return_probability"].between(0, 1).all()
