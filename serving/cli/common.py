"""Pieces every command shares: building the one Settings object and loading a source."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from features.config import Settings
from features.export.loading import LoadResult, load
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
) -> LoadResult:
    """Load a source for a command; print a clear error and exit 2 on a broken export."""
    try:
        result = load(
            source, settings, export_date=export_date, lenient=lenient or settings.load.lenient
        )
    except (ContractError, SourceError) as err:
        console.print(f"[red]error:[/red] {err}", highlight=False, markup=True, soft_wrap=True)
        raise typer.Exit(2) from err
    report = result.report
    if rejects is None and sum(report.rejected.values()):
        rejects = (
            Path(f"{describe(source).rstrip('/')}.rejects.csv")
            if "://" not in str(source)
            else Path("rejects.csv")
        )
    if rejects is not None and sum(report.rejected.values()):
        report.write_rejects(rejects)
        console.print(f"rejected rows with reasons written to {rejects}")
    return result
