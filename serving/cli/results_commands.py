"""Results command: ``reactivate results SOURCE [--campaign ID] [--clinic ID] [--json FILE]``.

Thin wiring only: load the export, read the campaign's members and outcome events
(``features.outcomes.frames``), compute ``training.campaign_results`` and print it in words
(``serving.monitoring.report.campaign_view``); ``--json`` also writes the full answer.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from serving.cli.common import (
    CONFIG_OPTION,
    EXPORT_DATE_OPTION,
    MODELS_DIR_OPTION,
    build_settings,
    console,
    load_or_exit,
)

out = Console()

SOURCE_ARG = typer.Argument(..., help="Export folder holding campaign_members (and outcome_events).")
CAMPAIGN_OPTION = typer.Option(None, "--campaign", help="Campaign id (default: the latest one).")
CLINIC_OPTION = typer.Option(None, "--clinic",
                             help="Clinic id (default: the export's only clinic).")
JSON_OPTION = typer.Option(None, "--json", dir_okay=False, help="Also write the answer as JSON.")
POSTED_OPTION = typer.Option(
    False, "--posted-only",
    help="Count bookings and kept visits from posted events only, leaving the export's "
    "visits out: the figures of GET /campaigns/{id}/results.")
SNAPSHOT_OPTION = typer.Option(None, "--snapshot", exists=True, dir_okay=False,
                               help="Scored snapshot giving each patient's segment.")


def results_cmd(
    source: str = SOURCE_ARG,
    campaign: str = CAMPAIGN_OPTION,
    clinic: str = CLINIC_OPTION,
    json_path: Path = JSON_OPTION,
    snapshot: Path = SNAPSHOT_OPTION,
    posted_only: bool = POSTED_OPTION,
    models_dir: Path = MODELS_DIR_OPTION,
    config: Path = CONFIG_OPTION,
    export_date: str = EXPORT_DATE_OPTION,
) -> None:
    """What a campaign did: contacted, booked, kept, revenue, cost, and what it really caused."""
    from features.outcomes.events import clinic_now
    from features.outcomes.frames import load_campaign_frames
    from serving.monitoring.report.campaign_source import results_of
    from serving.monitoring.report.campaign_view import campaign_lines
    from serving.monitoring.report.sequence_view import running_sequences, sequence_block

    settings = build_settings(config, models_dir)
    tables = load_or_exit(source, settings, export_date=export_date).tables
    clinics = tables.clinic_ids
    if clinic is None and len(clinics) != 1:
        console.print(f"[red]error:[/red] the export holds {len(clinics)} clinics: name one "
                      "with --clinic", highlight=False)
        raise typer.Exit(2)
    clinic = clinic or clinics[0]
    segments = None
    if snapshot is not None:
        from training.scored_snapshot import read_snapshot

        segments = read_snapshot(snapshot)[["patient_id", "segment"]]
    try:
        frames = load_campaign_frames(settings, clinic, campaign, Path(source), tables,
                                      posted_only)
        results = results_of(settings, clinic, frames, segments)
        if is_sequence_campaign(settings, clinic, frames.campaign_id, results):
            running = running_sequences(frames.members, frames.events, frames.campaign_id,
                                        settings, clinic_now(settings))
            results["sequences"] = sequence_block(results, running)
    except (ValueError, FileNotFoundError) as err:
        console.print(f"[red]error:[/red] {err}", highlight=False)
        raise typer.Exit(2) from err
    for line in campaign_lines(results, settings.report.currency_symbol):
        out.print(line, highlight=False, markup=False)
    if json_path is not None:
        json_path.write_text(json.dumps(results, indent=2, allow_nan=False) + "\n")
        out.print(f"written to {json_path}", highlight=False)


def is_sequence_campaign(settings, clinic_id: str, campaign_id: str, results: dict) -> bool:
    """Started with ``sequence: true`` (the store's record), or any member got a follow-up."""
    from features.outcomes.store import OutcomeStore
    from features.store_paths import outcomes_db

    if len(results["by_attempt"]) > 1:
        return True
    if not settings.outcomes.store_url and not outcomes_db(settings.models_dir).exists():
        return False
    store = OutcomeStore.from_settings(settings)
    try:
        record = store.campaign(clinic_id, campaign_id)
    finally:
        store.close()
    return bool(record and record["request"].get("sequence"))


def register(app: typer.Typer) -> None:
    """Add this module's command to ``app``."""
    app.command("results")(results_cmd)
