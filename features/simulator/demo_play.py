"""Play a campaign the service started on a demo group's clinic (the ``make demo`` step).

The demo export under ``demo/`` was written by ``write_group_demo``; its ``truth/meta.json``
holds each clinic's size, seed and practice type, so the clinic's simulation is rebuilt
exactly (same arguments, same run) and the members the service recorded (ids prefixed
``<clinic>-`` like the export's) are played forward by ``campaign_play`` with the clinic's
own true dynamics. The answer is outcome events with the export's ids, ready to post.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from features.simulator.api import Simulation, play_campaign, simulate
from features.simulator.campaign_play import PlayConfig
from features.simulator.group import prefixed
from features.simulator.practices import practice_config
from features.simulator.truth_files import META_FILE


def rebuild_clinic(demo_dir: Path, clinic_id: str) -> Simulation:
    """The simulation of one clinic of a demo group, from ``truth/meta.json``."""
    meta = json.loads((Path(demo_dir) / "truth" / META_FILE).read_text())
    clinics = meta.get("per_clinic", {})
    if clinic_id not in clinics:
        raise ValueError(f"truth/meta.json: no clinic {clinic_id!r} in the demo group "
                         f"(has {sorted(clinics)})")
    per = clinics[clinic_id]
    return simulate(int(per["n_patients"]), int(per["seed"]), meta["start"], meta["end"],
                    clinic_id, config=practice_config(per["practice"]))


def play_group_campaign(demo_dir: Path, clinic_id: str, members: pd.DataFrame, seed: int,
                        config: PlayConfig | None = None) -> pd.DataFrame:
    """Outcome events of a campaign on a demo group's clinic (export ids, ``<clinic>-`` prefix).

    Args:
        demo_dir: the folder ``reactivate demo-data`` wrote.
        clinic_id: the clinic of the campaign.
        members: its ``campaign_members`` rows (as the outcome store holds them).
        seed: seed of the play (sends, reactions, bookings).
    """
    head = f"{clinic_id}-"
    ids = members["patient_id"].astype(str)
    if not ids.str.startswith(head).all():
        raise ValueError(f"campaign_members.patient_id: not all of clinic {clinic_id!r}")
    local = members.assign(patient_id=ids.str.slice(len(head)).to_numpy(dtype=object))
    events = play_campaign(rebuild_clinic(demo_dir, clinic_id), local, seed, config)
    return events.assign(patient_id=prefixed(clinic_id, events["patient_id"]))
