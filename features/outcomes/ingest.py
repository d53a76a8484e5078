"""Check a batch of outcome events and store what passes: the one path of API and CLI alike.

The checks (``features.outcomes.events``) and the store's duplicate/conflict rule
(``features.outcomes.store``) together decide each event's fate; the answer counts them and
lists each refused event as ``{"index", "field", "reason"}``, conflicts with reason
``conflict``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from features.config import Settings
from features.outcomes.events import check_events
from features.outcomes.store import OutcomeStore

CONFLICT = "conflict"


@dataclass(frozen=True)
class IngestResult:
    """What became of a batch.

    Attributes:
        accepted, duplicates: counts of newly stored and already stored events.
        rejected: refused events, ``{"index", "field", "reason"}``, in input order.
        stored: the newly stored events (normalised frame), for the policy overlay.
        seqs: the store's last ``seq`` before and after the batch when the stored events
            got the ``seq`` values in between, in ``stored`` order (None: unknown).
    """

    accepted: int
    duplicates: int
    rejected: list[dict] = field(default_factory=list)
    stored: pd.DataFrame = field(default_factory=pd.DataFrame)
    seqs: tuple[int, int] | None = None


def ingest(
    store: OutcomeStore,
    clinic_id: str,
    raw_events: list[dict] | pd.DataFrame,
    known_patients: pd.Index,
    settings: Settings,
    now: pd.Timestamp | None = None,
) -> IngestResult:
    """Check ``raw_events`` of ``clinic_id`` and store the valid ones in one transaction."""
    checked = check_events(
        raw_events, known_patients, store.campaign_ids(clinic_id), settings, now=now
    )
    outcome = store.add_events(clinic_id, checked.events)
    conflicted = checked.events.iloc[outcome.conflicts]
    rejected = checked.rejected + [
        {"index": int(i), "field": "event_id", "reason": CONFLICT} for i in conflicted["index"]
    ]
    rejected.sort(key=lambda r: r["index"])
    stored = checked.events.iloc[outcome.stored].reset_index(drop=True)
    return IngestResult(outcome.accepted, outcome.duplicates, rejected, stored, outcome.seqs)
