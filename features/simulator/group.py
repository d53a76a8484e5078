"""A group of clinics of several practice types, as one export (the default demo).

Each clinic is its own simulation (its own practice type, staff, patients and campaigns);
the group's export is their concatenation with every id prefixed ``<clinic>-`` so ids stay
unique across clinics (``aesthetics-1-P0000042``), as a group's central system would hold
them. A clinic's practice type is taken from its id (``dental-2`` is dental) unless given.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from features.export.tables import Tables, conform
from features.simulator.api import Simulation, simulate
from features.simulator.params import SimConfig
from features.simulator.practices import PRACTICES, practice_config

#: Shares of the default mixed demo group, by clinic.
DEFAULT_GROUP: dict[str, float] = {"aesthetics-1": 0.4, "dental-1": 0.35, "physio-1": 0.25}
_SEED_STEP = 7919  # clinic i runs with seed + i * step (clinic 0 with the group's seed)
_IDS = {"patients": ("patient_id",), "visits": ("visit_id", "patient_id", "provider_id"),
        "contacts": ("contact_id", "patient_id", "campaign_id")}
# Campaign ids are prefixed like the contacts' so a member and its contacts still agree.
_MEMBER_IDS = ("patient_id", "campaign_id")


def practice_of(clinic_id: str) -> str:
    """The practice type a clinic id names (``physio-1`` -> physio; aesthetics otherwise)."""
    head = clinic_id.rsplit("-", 1)[0]
    return head if head in PRACTICES else "aesthetics"


def default_clinics(n_patients: int) -> dict[str, int]:
    """The default mixed group's clinics and sizes for ``n_patients`` in all."""
    sizes = {c: max(1, int(round(n_patients * s))) for c, s in DEFAULT_GROUP.items()}
    last = list(sizes)[-1]
    sizes[last] = max(1, n_patients - sum(sizes.values()) + sizes[last])
    return sizes


def simulate_clinics(
    clinics: dict[str, int], seed: int, start: str | date = "2021-01-01",
    end: str | date = "2026-10-31", *, config: SimConfig | dict[str, SimConfig] | None = None,
    practices: dict[str, str] | None = None,
) -> dict[str, Simulation]:
    """One simulation per clinic (``clinics``: clinic id -> patients).

    ``config`` replaces a clinic's parameters (one for all, or per clinic id); otherwise each
    clinic runs its practice type's (``practices`` or :func:`practice_of`).
    """
    out = {}
    for i, (clinic, n) in enumerate(clinics.items()):
        if isinstance(config, dict) and clinic in config:
            cfg = config[clinic]
        elif isinstance(config, SimConfig):
            cfg = config
        else:
            cfg = practice_config((practices or {}).get(clinic, practice_of(clinic)))
        out[clinic] = simulate(n, seed + i * _SEED_STEP, start, end, clinic, config=cfg)
    return out


def group_tables(sims: dict[str, Simulation]) -> Tables:
    """The clinics' exports as one, ids prefixed ``<clinic>-``."""
    frames: dict[str, list[pd.DataFrame]] = {name: [] for name in _IDS}
    for clinic, sim in sims.items():
        for name, cols in _IDS.items():
            frame = getattr(sim.tables, name).copy()
            for col in cols:
                frame[col] = prefixed(clinic, frame[col])
            frames[name].append(frame)
    tables = {name: conform(pd.concat(parts, ignore_index=True), name)
              for name, parts in frames.items()}
    first = next(iter(sims.values())).tables
    members = [
        sim.tables.campaign_members.assign(**{col: prefixed(clinic, sim.tables.campaign_members[col])
                                              for col in _MEMBER_IDS})
        for clinic, sim in sims.items() if sim.tables.campaign_members is not None
    ]
    return Tables(
        visits=tables["visits"], patients=tables["patients"], contacts=tables["contacts"],
        export_date=max(s.tables.export_date for s in sims.values()),
        has_patients_table=True, provided_columns=first.provided_columns,
        campaign_members=pd.concat(members, ignore_index=True) if members else None,
    )


def prefixed(clinic: str, ids: pd.Series) -> pd.Series:
    """``<clinic>-<id>`` for each id (missing stays missing)."""
    return ids.where(ids.isna(), clinic + "-" + ids.astype(str)).astype(object)


def simulate_group(
    clinics: dict[str, int], seed: int, start: str | date = "2021-01-01",
    end: str | date = "2026-10-31", *, config: SimConfig | dict[str, SimConfig] | None = None,
    practices: dict[str, str] | None = None,
) -> Tables:
    """The export of a group of clinics (see :func:`simulate_clinics` and
    :func:`group_tables`)."""
    return group_tables(simulate_clinics(clinics, seed, start, end, config=config,
                                         practices=practices))
