"""Training commands: ``train``, ``evaluate``, ``score``, ``models``.

Thin wiring only: each command builds the settings, loads the source, calls ``training``
and prints. Slow imports (LightGBM, MLflow) happen inside the commands so ``--help`` is fast.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from serving.cli.common import (
    CONFIG_OPTION,
    ENGINE_OPTION,
    EXPORT_DATE_OPTION,
    MODELS_DIR_OPTION,
    SPARK_MASTER_OPTION,
    build_settings,
    check_engine,
    console,
    fail,
    load_or_exit,
    run_spark_or_exit,
)

out = Console()
SOURCE_ARG = typer.Argument(
    ..., help="Folder of CSV/Parquet files, DuckDB file, or SQLAlchemy URL."
)
AS_OF_OPTION = typer.Option(None, "--as-of", help="As-of day T (default: the export date).")
HORIZON_OPTION = typer.Option(
    None, "--horizon-days", min=1, help="Return horizon in days (default 90)."
)
PROMOTE_OPTION = typer.Option(
    False, "--promote", help="Make this version the champion even if it does not beat it."
)
EVAL_OUT_OPTION = typer.Option(
    None, "--out", help="JSON file for the figures (default: evaluations/ in the models dir)."
)
SCORE_OUT_OPTION = typer.Option(
    None, "--out", help="Output file, .parquet or .csv (default: snapshots/ in the models dir)."
)
LENIENT_OPTION = typer.Option(False, "--lenient", help="Leave broken rows out instead of failing.")
TRUTH_OPTION = typer.Option(
    None, "--truth", exists=True, file_okay=False,
    help="Demo clinic only: the truth/ folder `demo-data` wrote; adds the oracle to the backtest.",
)
SEQUENCE_MEMBERS_OPTION = typer.Option(
    300, "--sequence-members", min=0,
    help="With --truth: treatment members whose planned sequences are scored against the "
    "truth (0: skip; each strategy is an exact outcome-tree run of the simulator).",
)
SEQUENCE_CLINIC_OPTION = typer.Option(
    None, "--sequence-clinic",
    help="With --truth: the clinic of the evaluated campaign (default: the first dental one).",
)


def _as_of(value: str | None, tables) -> pd.Timestamp:  # noqa: ANN001 - Tables
    day = value if value else tables.export_date
    return pd.Timestamp(day).normalize()


def _run_training(
    source: str,
    settings,
    as_of: str | None,
    export_date: str | None,  # noqa: ANN001
    lenient: bool,
    truth_dir: Path | None = None,
):  # noqa: ANN202 - (TrainResult, Tables)
    from features.simulator.truth_files import read_truth
    from training.fit import STEPS, train
    from training.training_snapshots import InsufficientHistory

    try:
        truth = read_truth(truth_dir) if truth_dir is not None else None
    except FileNotFoundError as err:
        console.print(f"[red]error:[/red] {err}", highlight=False)
        raise typer.Exit(2) from err
    tables = load_or_exit(source, settings, export_date=export_date, lenient=lenient,
                          scorable=True).tables
    from features.outcomes.merge import merge_from_settings

    tables = merge_from_settings(tables, settings)  # posted contacts and campaign members
    from features.export.readiness import limitations

    for note in limitations(tables):
        console.print(f"[yellow]note:[/yellow] {note}", highlight=False)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("training", total=len(STEPS))

        def on_step(name: str) -> None:
            done = STEPS.index(name) if name in STEPS else len(STEPS)
            progress.update(task, description=name, completed=done)

        try:
            result = train(tables, _as_of(as_of, tables), settings, truth=truth, on_step=on_step)
        except InsufficientHistory as err:
            progress.stop()
            fail(err)
    return result, tables


def _print_evaluation(evaluation: dict, title: str) -> None:
    from training.backtest_table import rich_tables

    for table in rich_tables(evaluation, title):
        out.print(table)
    _print_uplift(evaluation)
    bars = evaluation.get("bars", {})
    if bars:
        out.print(
            "quality bars: " + ", ".join(f"{k}={_bar(v)}" for k, v in bars.items()), highlight=False
        )


def _print_validation(window: dict) -> None:
    """What the backtest checked and what it could not (short exports cannot check it all)."""
    out.print(f"validation: {window.get('validation_mode', 'separate windows')}", highlight=False)
    for line in window.get("validated", []):
        out.print(f"  validated: {line}", highlight=False)
    for line in window.get("not_validated", []):
        out.print(f"  [yellow]not validated:[/yellow] {line}", highlight=False)
    choice = window.get("model_choice")
    if choice:
        out.print(f"  model: {choice['kept']}, {choice['inputs']} (chosen by the backtest)",
                  highlight=False)


def _print_uplift(evaluation: dict) -> None:
    """The uplift backtest (issue 12): extra bookings of the top k, Qini, AUUC, uplift at
    10/20/30% against the truth and on held-out campaigns; the ordering and the normalisation."""
    from training.backtest_table import uplift_tables

    uplift = evaluation.get("uplift")
    if not uplift:
        return
    if not uplift["available"]:
        out.print(f"uplift: not available - {uplift['reason']}", highlight=False)
    for table in uplift_tables(evaluation):
        out.print(table)
    out.print(f"default ordering: {uplift['ordering']} ({uplift['ordering_reason']})",
              highlight=False)
    if uplift.get("normalisation"):
        out.print(f"normalisation: {uplift['normalisation']}", highlight=False)


def _bar(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "NO"
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def train_cmd(
    source: str = SOURCE_ARG,
    as_of: str = AS_OF_OPTION,
    horizon_days: int = HORIZON_OPTION,
    promote: bool = PROMOTE_OPTION,
    export_date: str = EXPORT_DATE_OPTION,
    lenient: bool = LENIENT_OPTION,
    truth: Path = TRUTH_OPTION,
    models_dir: Path = MODELS_DIR_OPTION,
    config: Path = CONFIG_OPTION,
) -> None:
    """Train the return and channel models, backtest them, register the bundle in MLflow."""
    settings = build_settings(config, models_dir, horizon_days=horizon_days)
    result, _ = _run_training(source, settings, as_of, export_date, lenient, truth)
    from training.registry import log_and_register

    with console.status("logging to MLflow"):
        reg = log_and_register(result, settings, promote=promote)
    w = result.bundle.window
    import resource

    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    used = sum(w["rows"].values())
    out.print(
        f"used {used:,} of {w.get('rows_available', used):,} snapshot rows (cap "
        f"{w.get('max_training_rows', 0):,}; sampled per as-of date by label and segment); "
        f"peak memory {peak_gb:.2f} GB",
        highlight=False,
    )
    out.print(
        f"trained on {w['rows']['train']:,} snapshot rows ({w['train'][0]} .. "
        f"{w['train'][-1]}), validated on {w['rows']['validation']:,} rows as of "
        f"{', '.join(w['validation'])}; {w['contacts']:,} contacts for the channel model"
        + (f" (the latest of {w['contacts_available']:,}, cap {w['max_contact_rows']:,})"
           if w.get("contacts_available", 0) > w["contacts"] else ""),
        highlight=False,
    )
    _print_validation(w)
    _print_evaluation(result.evaluation, f"Backtest as of {', '.join(w['validation'])}")
    state = "[green]champion[/green]" if reg.promoted else "not promoted"
    out.print(
        f"registered {settings.training.registered_model_name} v{reg.version} ({state}: "
        f"{reg.reason}); run {reg.run_id}"
    )


def evaluate_cmd(
    source: str = SOURCE_ARG,
    as_of: str = AS_OF_OPTION,
    horizon_days: int = HORIZON_OPTION,
    out_path: Path = EVAL_OUT_OPTION,
    export_date: str = EXPORT_DATE_OPTION,
    lenient: bool = LENIENT_OPTION,
    truth: Path = TRUTH_OPTION,
    sequence_members: int = SEQUENCE_MEMBERS_OPTION,
    sequence_clinic: str = SEQUENCE_CLINIC_OPTION,
    models_dir: Path = MODELS_DIR_OPTION,
    config: Path = CONFIG_OPTION,
) -> None:
    """Backtest on the last window(s) before T: model, baselines and (with --truth) the oracle
    and the true booking probability of planned outreach sequences against simple orders."""
    settings = build_settings(config, models_dir, horizon_days=horizon_days)
    result, tables = _run_training(source, settings, as_of, export_date, lenient, truth)
    evaluation = dict(result.evaluation)
    from training.registry import compare_with_champion, validation_probabilities

    compared = compare_with_champion(result.bundle, result.validation, settings,
                                     validation_probabilities(result))
    if compared.champion_scores is not None:
        evaluation["return"] = {
            **evaluation["return"], f"champion v{compared.champion_version}": compared.champion_scores,
        }
    evaluation["window"] = result.bundle.window
    w = result.bundle.window
    _print_validation(w)
    _print_evaluation(evaluation, f"Backtest as of {', '.join(w['validation'])}")
    if truth is not None and sequence_members > 0:
        evaluation["sequences"] = _evaluate_sequences(result, tables, settings, truth, as_of,
                                                      sequence_clinic, sequence_members)
    default = Path(settings.models_dir) / "evaluations" / f"evaluation_{w['as_of']}.json"
    target = out_path or default
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(evaluation, indent=2, default=str))
    out.print(f"against the champion: {compared.reason}", highlight=False)
    out.print(f"figures written to {target}")


def _evaluate_sequences(result, tables, settings, truth: Path,  # noqa: ANN001
                        as_of: str | None, clinic: str | None, members: int) -> dict:
    """The sequence evaluation (issue 16) of a campaign planned on the export date, printed."""
    from serving.cli.sequence_evaluation import default_clinic, evaluate_demo_sequences
    from serving.targeting.sequence_evaluation import table_rows

    clinic = clinic or default_clinic(truth)
    day = _as_of(as_of, tables)
    try:
        with console.status(f"scoring planned sequences against the truth on {clinic}"):
            found = evaluate_demo_sequences(tables, result.bundle, settings, truth, day,
                                            clinic, members=members)
    except (LookupError, ValueError, FileNotFoundError) as err:  # e.g. an unknown clinic
        out.print(f"[yellow]sequence evaluation skipped:[/yellow] {err}", highlight=False)
        return {"available": False, "reason": str(err)}
    table = Table(title=f"Outreach sequences on {clinic}: {found['members']:,} treatment "
                  f"members planned as of {found['as_of']}, true P(booking within "
                  f"{found['window_days']} days)")
    for col in ("strategy", "mean true P(booking)", "extra bookings / 1,000 vs no contact",
                "share of best found"):
        table.add_column(col)
    for row in table_rows(found):
        table.add_row(*row)
    out.print(table)
    return found


def score_cmd(
    source: str = SOURCE_ARG,
    as_of: str = AS_OF_OPTION,
    out_path: Path = SCORE_OUT_OPTION,
    export_date: str = EXPORT_DATE_OPTION,
    lenient: bool = LENIENT_OPTION,
    models_dir: Path = MODELS_DIR_OPTION,
    config: Path = CONFIG_OPTION,
    engine: str = ENGINE_OPTION,
    spark_master: str = SPARK_MASTER_OPTION,
) -> None:
    """Score every patient with the champion model and write the scored snapshot atomically."""
    from features.export.readiness import scoring_problem
    from training.registry import NoChampion, load_champion
    from training.scored_snapshot import read_snapshot, snapshot_path, write_scored_snapshot
    from training.scoring import score
    from training.snapshot_schema import finish_snapshot

    check_engine(engine)
    settings = build_settings(config, models_dir)

    def champion() -> tuple:
        try:
            return load_champion(settings)
        except NoChampion as err:
            console.print(f"[red]error:[/red] {err}", highlight=False)
            raise typer.Exit(2) from err

    if engine == "spark":
        bundle, version = champion()
        from serving.batch.jobs import run_spark

        with console.status(f"scoring on Spark with model v{version}"):
            path, day = run_spark_or_exit(
                run_spark, "score", source,
                out_path or (lambda d: snapshot_path(settings.models_dir, d)), settings,
                spark_master, pd.Timestamp(as_of) if as_of else None, export_date, lenient,
                bundle, str(version))
            frame = read_snapshot(path)
    else:
        from features.outcomes.merge import merge_from_settings

        # The champion loads beside the export: importing MLflow and reading the bundle is
        # ~5 s of Python at a million patients, while most of the load runs in Arrow's own
        # threads without the interpreter.
        with ThreadPoolExecutor(1, thread_name_prefix="champion") as pool:
            loading = pool.submit(champion)
            tables = load_or_exit(source, settings, export_date=export_date, lenient=lenient,
                                  scorable=True).tables
            bundle, version = loading.result()
        tables = merge_from_settings(tables, settings)  # posted contacts and campaign members
        day = _as_of(as_of, tables)
        problem = scoring_problem(tables, day)
        if problem:
            fail(problem)
        with console.status(f"scoring as of {day.date()} with model v{version}"):
            frame = finish_snapshot(score(tables, day, bundle, settings), day, version)
            path = write_scored_snapshot(frame, out_path or snapshot_path(settings.models_dir, day))
    mix = frame["best_channel"].value_counts(normalize=True).round(3).to_dict()
    out.print(
        f"scored {len(frame):,} patients as of {day.date()} with v{version}: mean return "
        f"probability {frame['return_probability'].mean():.3f}, best channels {mix}; "
        f"written to {path}",
        highlight=False,
    )
    from serving.monitoring.drift import drift_after_scoring

    with console.status("checking drift against the model's reference sample"):
        drift = drift_after_scoring(path, bundle, settings, snapshot=frame)
    flag = "[red]DRIFT FLAGGED[/red]: " + " ".join(drift["reasons"]) if drift["flagged"] else "no drift flagged"
    where = f"drift report {drift['html_path']}" if drift["html_path"] else (
        f"drift summary {drift['json_path']}")
    out.print(f"{flag}; {where}", highlight=False)


def models_cmd(
    models_dir: Path = MODELS_DIR_OPTION,
    config: Path = CONFIG_OPTION,
) -> None:
    """List registered model versions with their aliases and backtest metrics."""
    from training.registry import list_versions

    settings = build_settings(config, models_dir)
    versions = list_versions(settings)
    if versions.empty:
        out.print(f"no registered models in {settings.models_dir}")
        return
    table = Table(title=f"{settings.training.registered_model_name} in {settings.models_dir}")
    for col in ("version", "alias", "created", "as of", "AUC", "Brier", "ECE", "decision"):
        table.add_column(col, overflow="fold")
    for r in versions.itertuples():
        table.add_row(
            str(r.version),
            r.aliases,
            str(r.created)[:10],
            r.as_of,
            f"{r.auc:.3f}",
            f"{r.brier:.4f}",
            f"{r.ece:.4f}",
            r.reason,
        )
    out.print(table)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("train")(train_cmd)
    app.command("evaluate")(evaluate_cmd)
    app.command("score")(score_cmd)
    app.command("models")(models_cmd)
