"""``reactivate outcomes import``: load outcome events from a file, with the API's checks.

The same path as ``POST /outcomes`` (``features.outcomes.ingest``): a patient of the clinic
(in the newest scored snapshot), a known campaign when one is named, a channel for contact
events, a time no later than now plus the allowed skew, revenue and cost >= 0. The whole file
is one transaction; a re-import counts duplicates and stores nothing twice.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import typer
from rich.console import Console

from features.config import Settings
from serving.cli.common import CONFIG_OPTION, MODELS_DIR_OPTION, build_settings, console

out = Console()
FILE_ARG = typer.Argument(..., help="Events as .csv or .parquet (columns of docs/data-contract.md).",
                          exists=True, dir_okay=False)
CLINIC_OPTION = typer.Option(..., "--clinic", help="The clinic the events belong to.")
SHOWN_REJECTIONS = 20


def read_events(path: Path) -> pd.DataFrame:
    """The file's rows as raw values (CSV as text: the checks parse and judge them)."""
    if path.suffix.lower() == ".parquet":
        return pd.read_parquet(path)
    if path.suffix.lower() == ".csv":
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    raise typer.BadParameter(f"{path.name}: expected a .csv or .parquet file")


def clinic_patients(settings: Settings, clinic_id: str) -> pd.Index:
    """Patient ids of the clinic in the snapshot the service serves (exit 2 when there is none).

    That is the champion's own newest snapshot (``training.scored_snapshot.snapshot_for``):
    a later one scored by an older model version (a re-run demo) must not decide which
    patients an import accepts.
    """
    from training.registry import champion_version
    from training.scored_snapshot import snapshot_for

    path = snapshot_for(settings.models_dir, champion_version(settings))
    if path is None:
        console.print("[red]error:[/red] no scored snapshot yet: run `reactivate score` first")
        raise typer.Exit(2)
    frame = pd.read_parquet(path, columns=["patient_id", "clinic_id"])
    ids = frame.loc[frame["clinic_id"].astype(str) == clinic_id, "patient_id"].astype(str)
    if ids.empty:
        console.print("[red]error:[/red] that clinic has no patients in the newest snapshot")
        raise typer.Exit(2)
    return pd.Index(ids.unique())


def import_cmd(
    file: Path = FILE_ARG,
    clinic: str = CLINIC_OPTION,
    models_dir: Path = MODELS_DIR_OPTION,
    config: Path = CONFIG_OPTION,
) -> None:
    """Import outcome events of one clinic; exit 1 when some were rejected."""
    from features.outcomes.ingest import ingest
    from features.outcomes.store import OutcomeStore

    settings = build_settings(config, models_dir)
    events = read_events(file)
    patients = clinic_patients(settings, clinic)
    store = OutcomeStore.from_settings(settings)
    try:
        result = ingest(store, clinic, events, patients, settings)
    finally:
        store.close()
    out.print(f"{result.accepted:,} accepted, {result.duplicates:,} duplicates, "
              f"{len(result.rejected):,} rejected", highlight=False)
    for rejection in result.rejected[:SHOWN_REJECTIONS]:
        out.print(f"  row {rejection['index'] + 1}: {rejection['field']}: {rejection['reason']}",
                  highlight=False)
    if len(result.rejected) > SHOWN_REJECTIONS:
        out.print(f"  ... and {len(result.rejected) - SHOWN_REJECTIONS:,} more", highlight=False)
    if result.rejected:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the ``outcomes`` command group."""
    group = typer.Typer(help="Outcome events: what happened to contacts and bookings.",
                        no_args_is_help=True)
    group.command("import")(import_cmd)
    app.add_typer(group, name="outcomes")
