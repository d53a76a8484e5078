"""Pieces every command shares: building the one Settings object and loading a source."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from features.config import Settings
from features.export.loading import LoadResult, load
from features.export.readiness import scoring_problem
from features.export.sources import SourceError, describe
from features.export.validation import ContractError

console = Console(stderr=True)

CONFIG_OPTION = typer.Option(
    None, "--config", help="TOML or JSON settings file.", exists=True, dir_okay=False
)
MODELS_DIR_OPTION = typer.Option(
    None,
    "--models-dir",
    envvar="REACTIVATE_MODELS_DIR",
    help="Model store folder (MLflow DB, artifacts, snapshots).",
)
EXPORT_DATE_OPTION = typer.Option(
    None,
    "--export-date",
    help="Day the export was taken (default: its latest non-scheduled event).",
)

ENGINE_OPTION = typer.Option(
    "pandas", "--engine",
    help="pandas (one process) or spark (one task per clinic; reads a folder of Parquet "
    "tables or a jdbc:postgresql:// URL and writes a Parquet dataset partitioned by clinic).",
)
SPARK_MASTER_OPTION = typer.Option(
    None, "--spark-master",
    help="Spark master URL with --engine spark (default: spark.master setting, local[*]).",
)


def check_engine(engine: str) -> None:
    """Refuse an unknown engine by name (typer then exits 2 with the message)."""
    if engine not in ("pandas", "spark"):
        raise typer.BadParameter("must be pandas or spark", param_hint="--engine")


def build_settings(
    config: Path | None = None, models_dir: Path | None = None, **overrides: object
) -> Settings:
    """The one config object of a command: file, then environment, then flags."""
    if models_dir is not None:
        overrides["models_dir"] = models_dir
    return Settings.from_file(config, **overrides)


def load_or_exit(
    source: str,
    settings: Settings,
    export_date: str | None = None,
    lenient: bool = False,
    rejects: Path | None = None,
    scorable: bool = False,
    counts: bool = True,
) -> LoadResult:
    """Load a source for a command; print a clear error and exit 2 on a broken export.

    Args:
        scorable: also exit 2 when the export breaks no rule but has no patient to score
            (``features.export.readiness.scoring_problem``), as ``validate``, ``train``,
            ``evaluate`` and ``score`` need.
        counts: in lenient mode, print the rows read, accepted and rejected per table
            (``validate`` shows them in its summary instead).
    """
    lenient = lenient or settings.load.lenient
    try:
        result = load(source, settings, export_date=export_date, lenient=lenient)
    except (ContractError, SourceError) as err:
        fail(err)
    report = result.report
    if lenient and counts:
        console.print("loaded (lenient): " + "; ".join(
            f"{name} {report.read[name]:,} read, {report.accepted[name]:,} accepted, "
            f"{report.rejected[name]:,} rejected" for name in report.read), highlight=False)
    if rejects is None and sum(report.rejected.values()):
        rejects = (
            Path(f"{describe(source).rstrip('/')}.rejects.csv")
            if "://" not in str(source)
            else Path("rejects.csv")
        )
    if rejects is not None and sum(report.rejected.values()):
        report.write_rejects(rejects)
        console.print(f"rejected rows with reasons written to {rejects}")
    problem = scoring_problem(result.tables) if scorable else None
    if problem:
        fail(problem)
    return result


def fail(err: Exception | str) -> NoReturn:
    """Print a refusal as one error message (never a traceback) and exit 2."""
    console.print(f"[red]error:[/red] {escape(str(err))}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def run_spark_or_exit(job, *args: object) -> tuple[Path, object]:  # noqa: ANN001 - callable
    """Run a Spark job; a contract breach or a clinic too large ends in exit 2, as pandas does."""
    from serving.batch.per_clinic import ClinicTooLarge

    try:
        return job(*args)
    except (ContractError, ClinicTooLarge, FileNotFoundError, ValueError) as err:
        console.print(f"[red]error:[/red] {err}", highlight=False)
        raise typer.Exit(2) from err
