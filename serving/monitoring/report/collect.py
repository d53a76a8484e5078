"""Gather what the report shows from the model store, and write the page.

Inputs are the champion bundle (``training.registry.load_champion``), the newest scored
snapshot (``training.scored_snapshot.latest_snapshot``) and the drift summary stored beside
it (``serving.monitoring.drift``). No source data is read: the report describes what the service
serves.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pandas as pd

from features.atomic_files import write_text_atomically
from features.config import Settings
from features.export.tables import Tables
from features.store_paths import snapshot_label
from serving.monitoring.drift import summary_paths
from serving.monitoring.report.data import ReportData
from serving.monitoring.report.model_views import global_explanations, model_health
from serving.monitoring.report.render import render
from serving.monitoring.report.tables import (
    channel_table,
    segment_table,
    segment_words,
    top_contacts,
)


def assemble(
    snapshot: pd.DataFrame,
    bundle: object,
    settings: Settings,
    as_of: str,
    drift: dict | None = None,
    model_version: str | None = None,
) -> ReportData:
    """Everything the page shows, from a scored snapshot and the bundle that scored it."""
    notes = []
    if "clinic_id" in snapshot.columns and snapshot["clinic_id"].nunique() > 1:
        clinics = ", ".join(sorted(snapshot["clinic_id"].astype(str).unique()))
        notes.append(f"Figures cover all clinics together: {clinics}.")
    listed = top_contacts(snapshot, bundle, settings, settings.report.top_n)
    return ReportData(
        as_of=as_of,
        horizon_days=settings.horizon_days,
        segments=segment_table(snapshot),
        contacts=listed.contacts,
        channel_mix=channel_table(snapshot),
        explanations=(
            global_explanations(bundle, snapshot, settings.seed) if len(snapshot) else None
        ),
        health=model_health(bundle),
        drift=drift,
        model_version=model_version,
        currency=settings.report.currency_symbol,
        notes=notes,
        ordering=listed.ordering,
        ordering_reason=listed.ordering_reason,
        list_value=listed.value,
        on_their_own=listed.on_their_own,
        pool=listed.pool,
        segment_words=segment_words(settings),
    )


def collect(settings: Settings, snapshot_path: Path | None = None,
            clinic_id: str | None = None) -> ReportData:
    """Report data for the champion and a snapshot (default: the newest one).

    Raises:
        FileNotFoundError: no scored snapshot in the model store.
        training.registry.NoChampion: no champion model yet.
        ValueError: ``clinic_id`` has no patient in the snapshot.
    """
    from training.registry import load_champion
    from training.scored_snapshot import read_snapshot, snapshot_for

    bundle, version = load_champion(settings)
    path = snapshot_path or snapshot_for(settings.models_dir, version)
    if path is None:
        raise FileNotFoundError(
            f"no scored snapshot under {settings.models_dir}: run `reactivate score`"
        )
    snapshot = read_snapshot(path)
    if clinic_id is not None:
        snapshot = snapshot.loc[snapshot["clinic_id"].astype(str) == clinic_id]
        if snapshot.empty:
            raise ValueError(f"clinic {clinic_id!r} has no patient in {path.name}")
    drift_file = summary_paths(path)[1]
    drift = json.loads(drift_file.read_text()) if drift_file.exists() else None
    as_of = snapshot_label(path)
    return assemble(snapshot, bundle, settings, as_of, drift, version)


def write_report(data: ReportData, out: Path) -> Path:
    """Render ``data`` and write it atomically to ``out``; returns ``out``."""
    return write_text_atomically(out, render(data))


def build_report(settings: Settings, out: Path, snapshot_path: Path | None = None,
                 clinic_id: str | None = None, campaign: dict | None = None,
                 export: Path | None = None, tables: Tables | None = None) -> Path:
    """Collect and write the manager report (the ``reactivate report`` command).

    ``campaign``: a campaign's results (``reactivate results --json``) for the "Campaign
    results" section; None: the latest campaign of the report's clinics, from the outcome
    store (and ``export``/``tables``, the export folder and its loaded tables, when given),
    or no section while there is none.
    """
    data = collect(settings, snapshot_path, clinic_id)
    if campaign is None:
        campaign = _latest_campaign(settings, snapshot_path, clinic_id, export, tables)
    return write_report(replace(data, campaign=campaign) if campaign else data, out)


def _latest_campaign(settings: Settings, snapshot_path: Path | None, clinic_id: str | None,
                     export: Path | None, tables: Tables | None) -> dict | None:
    """Results of the latest campaign of the snapshot's clinics (or of ``clinic_id``)."""
    from serving.monitoring.report.campaign_source import latest_campaign_results
    from training.registry import champion_version
    from training.scored_snapshot import read_snapshot, snapshot_for

    path = snapshot_path or snapshot_for(settings.models_dir, champion_version(settings))
    snapshot = read_snapshot(path)[["clinic_id", "patient_id", "segment"]]
    clinics = [clinic_id] if clinic_id else sorted(snapshot["clinic_id"].astype(str).unique())
    return latest_campaign_results(settings, clinics, export, tables,
                                   snapshot[["patient_id", "segment"]])
