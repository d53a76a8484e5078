"""Feature command: ``reactivate features SOURCE --as-of DATE --out PATH``.

Thin on purpose: load the export (``features.export.loading``), build the point-in-time features
(``features.pipeline.assemble``) with a progress display, write Parquet or CSV atomically, print a short
summary. The feature list itself is documented in ``docs/features.md``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from features import build
from features.atomic_files import write_atomically
from features.pipeline import assemble
from features.vocabulary import SEGMENTS
from serving.cli.common import (
    CONFIG_OPTION,
    ENGINE_OPTION,
    EXPORT_DATE_OPTION,
    SPARK_MASTER_OPTION,
    build_settings,
    check_engine,
    console,
    load_or_exit,
    run_spark_or_exit,
)

FORMATS = (".parquet", ".csv")
SOURCE_ARGUMENT = typer.Argument(
    ..., help="Folder of CSV/Parquet files, DuckDB file, or SQLAlchemy URL.")
AS_OF_OPTION = typer.Option(
    ..., "--as-of", help="As-of day T: only events before the end of T count.")
OUT_OPTION = typer.Option(
    ..., "--out", help="Output file, .parquet or .csv (one row per patient).")
LENIENT_OPTION = typer.Option(
    False, "--lenient", help="Leave broken rows out (reported) instead of failing.")


def features(
    source: str = SOURCE_ARGUMENT,
    as_of: str = AS_OF_OPTION,
    out: Path = OUT_OPTION,
    lenient: bool = LENIENT_OPTION,
    export_date: str = EXPORT_DATE_OPTION,
    config: Path = CONFIG_OPTION,
    engine: str = ENGINE_OPTION,
    spark_master: str = SPARK_MASTER_OPTION,
) -> None:
    """Compute every patient's point-in-time features as of a day and write them to a file."""
    check_engine(engine)
    if engine == "spark":
        _features_on_spark(source, as_of, out, lenient, export_date, config, spark_master)
        return
    if out.suffix.lower() not in FORMATS:
        raise typer.BadParameter(f"must end in {' or '.join(FORMATS)}", param_hint="--out")
    try:
        day = pd.Timestamp(as_of).normalize()
    except ValueError as err:
        raise typer.BadParameter(f"not a date: {as_of!r}", param_hint="--as-of") from err
    settings = build_settings(config)
    families = assemble.FAMILIES
    steps = ["load", "prepare", *families, "write"]
    with Progress(
        SpinnerColumn(), TextColumn("{task.description:<24}"), BarColumn(), TimeElapsedColumn(),
        console=console, transient=False,
    ) as progress:
        task = progress.add_task("loading the export", total=len(steps))
        result = load_or_exit(source, settings, export_date=export_date, lenient=lenient)
        tables = result.tables
        if day > tables.export_date.normalize():
            console.print(f"[yellow]note:[/yellow] as-of {day.date()} is after the export date "
                          f"{tables.export_date.date()}; nothing after the export is known.")

        def on_step(name: str) -> None:
            progress.update(task, advance=1, description=f"features: {name}")

        frame = build(tables, day, settings, on_step=on_step)
        progress.update(task, advance=1, description=f"writing {out.name}")
        write_frame(frame, out)
        progress.update(task, advance=1, description="done")
    console.print(summary(frame, day, out), highlight=False)


def _features_on_spark(source: str, as_of: str, out: Path, lenient: bool,
                       export_date: str | None, config: Path | None,
                       master: str | None) -> None:
    """The same features, one Spark task per clinic, written as a Parquet dataset."""
    from serving.batch.jobs import run_spark

    settings = build_settings(config)
    with console.status("computing features on Spark, one task per clinic"):
        path, day = run_spark_or_exit(run_spark, "features", source, out, settings, master,
                                      pd.Timestamp(as_of), export_date, lenient)
    frame = pd.read_parquet(path)
    console.print(summary(frame, day, path), highlight=False)


def write_frame(frame: pd.DataFrame, out: Path) -> Path:
    """Write ``frame`` (index ``patient_id`` kept as a column) atomically, by file suffix."""
    if out.suffix.lower() == ".parquet":
        return write_atomically(out, lambda tmp: frame.to_parquet(tmp, index=True))
    return write_atomically(
        out, lambda tmp: frame.to_csv(tmp, index=True, date_format="%Y-%m-%d"))


def summary(frame: pd.DataFrame, day: pd.Timestamp, out: Path) -> str:
    """One paragraph: how many patients, columns, and the calendar segments."""
    counts = frame["segment"].value_counts()
    seen = ", ".join(f"{s} {int(counts.get(s, 0)):,}" for s in SEGMENTS)
    never = int(frame["segment"].isna().sum())
    return (f"wrote {len(frame):,} patients x {frame.shape[1]} columns as of {day.date()} "
            f"to {out}\nsegments: {seen}; no completed visit yet {never:,}")


def register(app: typer.Typer) -> None:
    """Add the feature command to ``app``."""
    app.command("features")(features)
