"""Whether a loaded export can answer anything: the checks that no single row can fail.

An export can satisfy every row rule and still be useless: a log of no-shows and
cancellations has no patient to score (a patient enters the scored population only after a
completed visit), and a table of one service or without contacts limits what the models can
learn. :func:`scoring_problem` is the refusal (``validate``, ``train`` and ``score`` exit on
it); :func:`limitations` are the notes that still let the export be used.
"""

from __future__ import annotations

import pandas as pd

from features.export.tables import Tables
from features.vocabulary import COMPLETED, SCHEDULED, cutoff


def scoring_problem(tables: Tables, as_of: str | pd.Timestamp | None = None) -> str | None:
    """Why no patient of ``tables`` can be scored at ``as_of`` (default: the export date), or None.

    Returns:
        A sentence naming the table and what is missing, or None when at least one
        completed visit lies before the cutoff of ``as_of``.
    """
    day = tables.export_date if as_of is None else as_of
    visits = tables.visits
    done = visits["status"].eq(COMPLETED) & (visits["visit_at"] < cutoff(day))
    if done.any():
        return None
    counts = visits["status"].value_counts()
    found = ", ".join(f"{status} {n:,}" for status, n in counts.items()) or "none"
    when = "" if as_of is None else f" on or before {pd.Timestamp(as_of).date()}"
    return (
        f"visits: no completed visit{when} (statuses found: {found}): a patient is scored only "
        "after a completed visit, so there is no one to score and nothing to train on"
    )


def limitations(tables: Tables) -> list[str]:
    """Plain notes on what a usable export cannot give (empty when it has everything).

    Returns:
        One sentence per limitation, each naming the table and column concerned.
    """
    notes = []
    if tables.contacts is None:
        notes.append(
            "contacts: no table: no channel model and no uplift model (the scored snapshot's "
            "best_channel says so); patients are ranked by return probability alone"
        )
    visits = tables.visits
    services = visits.loc[visits["status"].ne(SCHEDULED), "service"].dropna().unique()
    if "service" not in tables.provided_columns.get("visits", ("service",)):
        notes.append("visits.service: no column: service features are missing")
    elif len(services) <= 1:
        notes.append(
            f"visits.service: {len(services)} distinct value{'s' if len(services) != 1 else ''}:"
            " the service features cannot tell patients apart"
        )
    return notes
