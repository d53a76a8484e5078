"""The retraining notebook runs top to bottom on a small demo clinic, and feeds the report."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[3] / "notebooks" / "retrain.ipynb"
END = "2026-06-30"


def test_notebook_is_a_training_client_importing_no_serving_code() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    imports = [line.split()[1] for c in nb.cells if c.cell_type == "code"
               for line in c.source.splitlines() if line.startswith(("import ", "from "))]
    ours = {name.split(".")[0] for name in imports} & {"features", "training", "serving"}
    assert ours == {"features", "training"}


def test_no_model_store_is_committed_beside_the_notebook() -> None:
    import subprocess

    root = NOTEBOOK.parents[1]
    tracked = subprocess.run(["git", "ls-files", "--", "*mlflow.db"], cwd=root,
                             capture_output=True, text=True, check=True).stdout.split()
    assert tracked == []
    ignored = subprocess.run(["git", "check-ignore", "-q", "notebooks/mlflow.db"], cwd=root)
    assert ignored.returncode == 0


def test_committed_notebook_carries_no_outputs() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)
    assert "parameters" in code[0].metadata.get("tags", [])


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> tuple[nbformat.NotebookNode, Path]:
    """The notebook run on a fresh demo export with an empty model store."""
    from features.simulator import write_demo

    root = tmp_path_factory.mktemp("notebook")
    write_demo(root / "demo", 1200, seed=11, start="2023-01-01", end=END, truth_as_of=[END])
    models = root / "models"
    env = {"REACTIVATE_DATA": str(root / "demo"), "REACTIVATE_MODELS_DIR": str(models),
           "REACTIVATE_TRUTH": str(root / "demo" / "truth"),
           "REACTIVATE_SHAP_ROWS": "200", "MLFLOW_LOGGING_LEVEL": "WARNING",
           "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits this process's environment
    try:
        nb = nbformat.read(NOTEBOOK, as_version=4)
        NotebookClient(nb, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return nb, models


def test_notebook_runs_top_to_bottom_and_registers_a_champion(
    executed: tuple[nbformat.NotebookNode, Path],
) -> None:
    from features.config import Settings
    from training.registry import load_champion

    nb, models = executed
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 2  # SHAP summary and one patient's waterfall
    text = "\n".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "now the champion" in text
    assert "against the champion: first version" in text
    bundle, version = load_champion(Settings(models_dir=models))
    assert version == "1" and bundle.metrics["return"]["model"]["auc"] > 0.6
    shown = "\n".join(o.get("data", {}).get("text/markdown", "") for o in outputs)
    uplift = bundle.metrics["uplift"]
    if uplift["available"]:  # the uplift section: its tables, the ordering, the normalisation
        if uplift["oracle"]:  # truth at the validation date (not in this small export)
            assert "Uplift against the truth" in shown and "oracle (truth)" in shown
        assert uplift["held_out_campaigns"] and "held-out campaign(s), realised" in shown
        assert "uplift at 10%" in shown and "Qini" in shown and "AUUC" in shown
        assert "Normalisation:" in shown and f"`{uplift['ordering']}`" in shown
    else:
        assert "Uplift: not available" in shown


def test_report_command_describes_the_notebooks_champion_after_scoring(
    executed: tuple[nbformat.NotebookNode, Path], tmp_path: Path,
) -> None:
    from typer.testing import CliRunner

    from features.config import Settings
    from features.export.loading import load
    from serving.cli.app import app
    from training.registry import load_champion
    from training.scored_snapshot import snapshot_path, write_scored_snapshot
    from training.scoring import score
    from training.snapshot_schema import finish_snapshot

    _, models = executed
    settings = Settings(models_dir=models)
    bundle, version = load_champion(settings)
    tables = load(os.fspath(models.parent / "demo"), settings).tables
    scored = finish_snapshot(score(tables, END, bundle, settings), END, version)
    write_scored_snapshot(scored, snapshot_path(models, END))

    out = tmp_path / "report.html"
    result = CliRunner().invoke(app, ["report", "--models-dir", str(models), "--out", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert "Who to contact this week" in html and "Model version 1" in html
    assert "No drift check has been run" in html  # scored here without the drift step
