"""Data commands: ``demo-data`` (the demo clinic), ``demo-play`` (play a campaign the service
started on it) and ``validate`` (check an export)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from features.export.readiness import limitations
from serving.cli.common import (
    CONFIG_OPTION,
    EXPORT_DATE_OPTION,
    MODELS_DIR_OPTION,
    build_settings,
    console,
    load_or_exit,
)

out = Console()


def demo_data(
    patients: int = typer.Option(
        20_000, "--patients", min=10, help="How many patients the demo has (all clinics)."
    ),
    practice: str = typer.Option(
        "mixed", "--practice",
        help="mixed: a group of an aesthetics, a dental and a physiotherapy clinic "
        "(aesthetics-1, dental-1, physio-1); or one clinic of that type (aesthetics, dental, "
        "physio; clinic id <type>-1).",
    ),
    seed: int = typer.Option(7, "--seed", help="Random seed: the same seed gives the same files."),
    out_dir: Path = typer.Option(
        Path("demo"), "--out", help="Folder to write patients/visits/contacts CSVs to."
    ),
    start: str = typer.Option("2021-01-01", "--start", help="First day of the clinic's history."),
    end: str = typer.Option("2026-10-31", "--end", help="Export day: last day of the history."),
    truth_as_of: list[str] = typer.Option(  # noqa: B008
        None,
        "--truth-as-of",
        help="As-of day(s) for the ground truth files (default: every 30 days).",
    ),
    horizon_days: int = typer.Option(
        90, "--horizon-days", min=1, help="Horizon of the true return probability."
    ),
) -> None:
    """Generate a believable demo group of clinics (and its ground truth under truth/)."""
    from features.simulator import write_group_demo
    from features.simulator.group import default_clinics
    from features.simulator.practices import PRACTICES

    if practice != "mixed" and practice not in PRACTICES:
        console.print(f"--practice must be mixed or one of {', '.join(PRACTICES)}, "
                      f"not {practice!r}")
        raise typer.Exit(2)
    clinics = default_clinics(patients) if practice == "mixed" else {f"{practice}-1": patients}
    with console.status(f"simulating {patients:,} patients in {len(clinics)} clinic(s)"):
        meta = write_group_demo(
            out_dir,
            clinics,
            seed=seed,
            start=date.fromisoformat(start),
            end=date.fromisoformat(end),
            truth_as_of=[date.fromisoformat(d) for d in truth_as_of] if truth_as_of else None,
            horizon_days=horizon_days,
        )
    t = meta["tables"]
    n_contacts = 0 if t.contacts is None else len(t.contacts)
    console.print(
        f"wrote {len(t.patients):,} patients, {len(t.visits):,} visits, {n_contacts:,} contacts "
        f"and ground truth to {out_dir}; clinics: "
        + ", ".join(f"{c} ({k})" for c, k in meta["clinics"].items())
    )


def validate(
    source: str = typer.Argument(
        ..., help="Folder of CSV/Parquet files, DuckDB file, or SQLAlchemy URL."
    ),
    lenient: bool = typer.Option(
        False, "--lenient", help="Leave broken rows out (reported) instead of failing."
    ),
    rejects: Path = typer.Option(
        None, "--rejects", help="Where to write rejected rows with reasons (CSV)."
    ),
    export_date: str = EXPORT_DATE_OPTION,
    config: Path = CONFIG_OPTION,
) -> None:
    """Check an export against the data contract and summarise it. Exit 0 only if it can be scored.

    Exit 2 when a rule is broken (strict), when no row is usable, or when no patient can be
    scored (no completed visit). An export that can be scored but not yet trained on (too
    short a history) passes with a note saying what training needs.
    """
    settings = build_settings(config)
    result = load_or_exit(
        source, settings, export_date=export_date, lenient=lenient, rejects=rejects,
        scorable=True, counts=False,
    )
    out.print(summary_table(result))
    report = result.report
    problems = [v for v in report.violations]
    if problems:
        out.print(
            f"[yellow]{len(problems)} rule(s) broken; the rows were left out (lenient):[/yellow]"
        )
        for v in problems:
            out.print(f"  - {v.describe(settings.load.max_rows_in_error)}", highlight=False)
    stale = int(report.rejects["reason"].str.contains("stale").sum()) if len(report.rejects) else 0
    if stale:
        out.print(f"{stale:,} stale scheduled visit(s) before the export date were not used.")
    for name, cols in report.ignored_columns.items():
        if cols:
            out.print(f"{name}: ignored columns not in the contract: {', '.join(cols)}")
    for note in limitations(result.tables):
        out.print(f"[yellow]note:[/yellow] {note}", highlight=False)
    cannot_train = training_refusal(result.tables, settings)
    if cannot_train:
        out.print(f"[yellow]cannot train yet:[/yellow] {cannot_train}", highlight=False)
    out.print("[green]valid[/green]" if not problems else "[yellow]usable (lenient)[/yellow]")


def training_refusal(tables, settings) -> str | None:  # noqa: ANN001 - Tables, Settings
    """Why ``train`` would refuse this export at its export date (history only), or None.

    Only the date checks run here (cheap); the patient counts need features and are checked
    by ``train`` itself.
    """
    from training.training_snapshots import InsufficientHistory, trainable_split

    try:
        trainable_split(tables, pd.Timestamp(tables.export_date).normalize(), settings)
    except InsufficientHistory as err:
        return str(err)
    return None


def summary_table(result) -> Table:  # noqa: ANN001 - LoadResult, imported lazily by callers
    """Rows per table, date range, patients, status and channel mix, rejects."""
    t, r = result.tables, result.report
    table = Table(title="Clinic export")
    table.add_column("what")
    table.add_column("value", overflow="fold")
    for name in ("patients", "visits", "contacts"):
        if name in r.read:
            table.add_row(
                f"{name} rows",
                f"{r.read[name]:,} read, {r.accepted[name]:,} accepted, {r.rejected[name]:,} rejected",
            )
        elif name == "patients":
            table.add_row(
                "patients rows", "no patients table: derived from visits (clinic 'default')"
            )
        else:
            table.add_row(f"{name} rows", "absent")
    v = t.visits
    table.add_row(
        "visit dates",
        f"{v['visit_at'].min():%Y-%m-%d} to {v['visit_at'].max():%Y-%m-%d}" if len(v) else "-",
    )
    table.add_row("export date", f"{t.export_date:%Y-%m-%d %H:%M}")
    table.add_row(
        "patients", f"{v['patient_id'].nunique():,} with visits, {len(t.patients):,} in all"
    )
    table.add_row("clinics", ", ".join(t.clinic_ids))
    table.add_row("status mix", _mix(v["status"]))
    if t.contacts is not None:
        table.add_row("channel mix", _mix(t.contacts["channel"]))
    return table


def _mix(values: pd.Series) -> str:
    shares = values.value_counts(normalize=True)
    return ", ".join(f"{k} {s:.1%}" for k, s in shares.items())


def demo_play(
    demo_dir: Path = typer.Argument(Path("demo"), help="The folder `demo-data` wrote."),
    clinic: str = typer.Option(..., "--clinic", help="Clinic of the campaign (e.g. dental-1)."),
    campaign: str = typer.Option(..., "--campaign", help="Campaign id started by POST /campaigns."),
    seed: int = typer.Option(1, "--seed", help="Seed of the play: the same seed, the same events."),
    out_path: Path = typer.Option(
        ..., "--out", dir_okay=False, help="Parquet file for the simulated outcome events."),
    models_dir: Path = MODELS_DIR_OPTION,
    config: Path = CONFIG_OPTION,
) -> None:
    """Play a stored campaign forward with the demo clinic's true dynamics: outcome events."""
    from features.outcomes.merge import store_exists
    from features.outcomes.store import OutcomeStore
    from features.simulator.demo_play import play_group_campaign

    settings = build_settings(config, models_dir)
    members = pd.DataFrame()
    if store_exists(settings):
        store = OutcomeStore.from_settings(settings)
        try:
            members = store.members_frame(clinic, campaign)
        finally:
            store.close()
    if members.empty:
        console.print(f"[red]error:[/red] the outcome store has no campaign {campaign!r} of "
                      f"clinic {clinic!r}: start it with POST /campaigns", highlight=False)
        raise typer.Exit(2)
    try:
        events = play_group_campaign(demo_dir, clinic, members, seed)
    except (ValueError, FileNotFoundError) as err:
        console.print(f"[red]error:[/red] {err}", highlight=False)
        raise typer.Exit(2) from err
    out_path.parent.mkdir(parents=True, exist_ok=True)
    events.to_parquet(out_path, index=False)
    counts = events["type"].value_counts()
    out.print(f"{len(members):,} members played: {len(events):,} outcome events ("
              + ", ".join(f"{k} {v:,}" for k, v in counts.items()) + f") -> {out_path}",
              highlight=False)


def register(app: typer.Typer) -> None:
    """Add the data commands to ``app``."""
    app.command("demo-data")(demo_data)
    app.command("demo-play")(demo_play)
    app.command("validate")(validate)
