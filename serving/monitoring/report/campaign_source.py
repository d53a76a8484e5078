"""Which campaign the report's "Campaign results" section shows, and its results.

``reactivate report`` shows the latest campaign by itself: among the report's clinics, the
campaign assigned most recently in the outcome store (and the export, when one is named),
measured by ``training.campaign_results`` exactly as ``reactivate results`` measures it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from features.config import Settings
from features.export.tables import Tables
from features.outcomes.frames import CampaignFrames, load_campaign_frames
from training.campaign_results import campaign_results


def results_of(settings: Settings, clinic_id: str, frames: CampaignFrames,
               segments: pd.DataFrame | None) -> dict:
    """The results answer of ``frames``, with its clinic and sources."""
    results = campaign_results(frames.members, frames.events, frames.visits, settings,
                               frames.campaign_id, segments=segments)
    extra = {"segments": "scored snapshot"} if segments is not None else {}
    return {"clinic_id": clinic_id, **results, "sources": {**frames.sources, **extra}}


def latest_campaign_results(settings: Settings, clinics: list[str], export: Path | None,
                            tables: Tables | None, segments: pd.DataFrame | None) -> dict | None:
    """Results of the most recently started campaign of any of ``clinics`` (None: none yet)."""
    latest: tuple[pd.Timestamp, str, CampaignFrames] | None = None
    for clinic in clinics:
        try:
            frames = load_campaign_frames(settings, clinic, None, export, tables)
        except ValueError:  # this clinic has no campaign (or no patient in the export)
            continue
        key = (frames.started_at, clinic, frames)
        if latest is None or key[:2] > latest[:2]:
            latest = key
    if latest is None:
        return None
    return results_of(settings, latest[1], latest[2], segments)
