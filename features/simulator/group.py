"""A clinic group: several simulated clinics in one export, ids kept apart by clinic.

Why: a group of practices is how the product is really deployed (and how the Spark engine
splits work), while ``simulate`` makes one clinic. Each clinic is its own simulation (its own
seed), its ids prefixed with its clinic id so the export's ids stay unique.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from features.export.tables import Tables
from features.simulator.api import simulate
from features.simulator.params import SimConfig

ID_COLUMNS: dict[str, tuple[str, ...]] = {
    "patients": ("patient_id",),
    "visits": ("visit_id", "patient_id"),
    "contacts": ("contact_id", "patient_id", "campaign_id"),
}


def simulate_group(
    clinics: dict[str, int],
    seed: int,
    start: str | date = "2021-01-01",
    end: str | date = "2026-10-31",
    *,
    config: SimConfig | None = None,
) -> Tables:
    """One export of several clinics: ``{clinic_id: patients}``, clinic k seeded ``seed + k``.

    Returns:
        The group's tables (contract dtypes); the export date is the latest of the clinics'.
    """
    parts = [simulate(n, seed + k, start, end, clinic_id, config=config).tables
             for k, (clinic_id, n) in enumerate(clinics.items())]
    merged = {}
    for name, columns in ID_COLUMNS.items():
        frames = []
        for clinic_id, tables in zip(clinics, parts, strict=True):
            frame = getattr(tables, name)
            if frame is None:
                continue
            frame = frame.copy()
            for col in columns:
                frame[col] = (clinic_id + "-" + frame[col].astype(str)).where(frame[col].notna())
            frames.append(frame)
        merged[name] = pd.concat(frames, ignore_index=True) if frames else None
    return Tables(
        visits=merged["visits"], patients=merged["patients"], contacts=merged["contacts"],
        export_date=max(t.export_date for t in parts), has_patients_table=True,
        provided_columns=parts[0].provided_columns,
    )
