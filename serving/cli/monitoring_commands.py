"""Monitoring commands: ``drift`` (has the data moved?) and ``report`` (the manager's page).

Thin wiring only: options, loading, printing; the work is in ``serving.monitoring.drift`` and
``serving.monitoring.report``. Slow imports (Evidently, MLflow, LightGBM) happen inside the commands.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from serving.cli.common import (
    CONFIG_OPTION,
    MODELS_DIR_OPTION,
    build_settings,
    console,
    load_or_exit,
)

out = Console()


def _is_snapshot_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in (".parquet", ".csv")


def _print_summary(summary: dict) -> None:
    drifted = summary["drifted_columns"]
    out.print(
        f"{summary['n_drifted']} of {summary['n_columns']} characteristics drifted "
        f"({summary['drifted_share']:.0%})" + (f": {', '.join(drifted)}" if drifted else ""),
        highlight=False,
    )
    if summary["score"] is not None:
        s = summary["score"]
        out.print(f"return probability: PSI {s['statistic']:.3f} (threshold {s['threshold']}), "
                  f"mean {s['reference_mean']:.3f} -> {s['current_mean']:.3f}", highlight=False)
    if summary["channel_mix"] is not None:
        m = summary["channel_mix"]
        out.print(f"best-channel mix moved {m['total_variation']:.1%} "
                  f"(threshold {m['threshold']:.0%})", highlight=False)
    if summary["flagged"]:
        out.print("[red]DRIFT FLAGGED[/red]: " + " ".join(summary["reasons"]), highlight=False)
    else:
        out.print("[green]no drift flagged[/green]")
    report = summary["html_path"] or "not written (no drift flagged; --html to ask for it)"
    out.print(f"report: {report}\nsummary: {summary['json_path']}", highlight=False)


CURRENT_OPTION = typer.Option(
    ..., "--current", exists=True, dir_okay=False,
    help="Scored snapshot to check (.parquet or .csv).",
)
REFERENCE_OPTION = typer.Option(
    None, "--reference", exists=True,
    help="A model bundle folder or another scored snapshot (default: the champion's reference "
         "sample).",
)
DRIFT_OUT_OPTION = typer.Option(
    None, "--out", file_okay=False, help="Folder for the two files (default: beside the snapshot)."
)
FAIL_OPTION = typer.Option(False, "--fail-on-drift", help="Exit with code 1 when drift is flagged.")
HTML_OPTION = typer.Option(
    False, "--html", help="Write Evidently's HTML report even when no drift is flagged."
)
REPORT_OUT_OPTION = typer.Option(Path("report.html"), "--out", dir_okay=False,
                                 help="HTML file to write.")
SNAPSHOT_OPTION = typer.Option(None, "--snapshot", exists=True, dir_okay=False,
                               help="Scored snapshot to describe (default: the newest).")
CLINIC_OPTION = typer.Option(None, "--clinic", help="Only this clinic's patients.")
CAMPAIGN_RESULTS_OPTION = typer.Option(
    None, "--campaign-results", exists=True, dir_okay=False,
    help="A campaign's results (`reactivate results --json FILE`) for the campaign section "
    "(default: the latest campaign in the outcome store and --export).")
EXPORT_OPTION = typer.Option(
    None, "--export", exists=True, file_okay=False,
    help="Export folder: its campaign members, outcome events and visits join the outcome "
    "store's for the campaign section (as `reactivate results` does).")


def drift_cmd(
    current: Path = CURRENT_OPTION,
    reference: Path = REFERENCE_OPTION,
    out_dir: Path = DRIFT_OUT_OPTION,
    fail_on_drift: bool = FAIL_OPTION,
    html: bool = HTML_OPTION,
    models_dir: Path = MODELS_DIR_OPTION,
    config: Path = CONFIG_OPTION,
) -> None:
    """Compare a scored snapshot's features, scores and channels with a reference.

    The JSON summary is always written; the HTML report with ``--html`` or when flagged.
    """
    from serving.monitoring.drift import drift_against_bundle, run_drift, summary_paths
    from training.bundle import ModelBundle
    from training.registry import NoChampion, load_champion
    from training.scored_snapshot import read_snapshot

    settings = build_settings(config, models_dir)
    frame = read_snapshot(current)
    json_path = summary_paths(current)[1]
    target, stem = (out_dir, json_path.stem) if out_dir is not None else (json_path.parent,
                                                                          json_path.stem)
    with console.status("checking drift"):
        if reference is not None and _is_snapshot_file(reference):
            summary = run_drift(frame, read_snapshot(reference), settings, target, stem=stem,
                                html=html)
        else:
            if reference is not None:
                bundle = ModelBundle.load(reference)
            else:
                try:
                    bundle = load_champion(settings)[0]
                except NoChampion as err:
                    console.print(f"[red]error:[/red] {err}", highlight=False)
                    raise typer.Exit(2) from err
            summary = drift_against_bundle(frame, bundle, settings, target, stem=stem, html=html)
    _print_summary(summary)
    if fail_on_drift and summary["flagged"]:
        raise typer.Exit(1)


def report_cmd(
    out_path: Path = REPORT_OUT_OPTION,
    snapshot: Path = SNAPSHOT_OPTION,
    clinic: str = CLINIC_OPTION,
    campaign_results: Path = CAMPAIGN_RESULTS_OPTION,
    export: Path = EXPORT_OPTION,
    models_dir: Path = MODELS_DIR_OPTION,
    config: Path = CONFIG_OPTION,
) -> None:
    """Write the practice manager's report: one self-contained HTML page, printable on A4."""
    from serving.monitoring.report import build_report
    from training.registry import NoChampion

    settings = build_settings(config, models_dir)
    tables = load_or_exit(str(export), settings).tables if export is not None else None
    try:
        with console.status("building the report"):
            campaign = json.loads(campaign_results.read_text()) if campaign_results else None
            path = build_report(settings, out_path, snapshot, clinic, campaign, export, tables)
    except (NoChampion, FileNotFoundError, ValueError) as err:
        console.print(f"[red]error:[/red] {err}", highlight=False)
        raise typer.Exit(2) from err
    size = path.stat().st_size
    out.print(f"report written to {path} ({size / 1024:,.0f} KB)", highlight=False)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("drift")(drift_cmd)
    app.command("report")(report_cmd)
