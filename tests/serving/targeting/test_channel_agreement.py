"""The snapshot's best channel and the channel ``/rank`` serves come from one choice."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from features.vocabulary import CHANNELS, NO_ALLOWED_CHANNEL
from serving.targeting.index import build_index
from serving.targeting.ranking import RankFilters, patient_records, rank_patients
from tests.serving.conftest import world_settings

BLOCKED = 40  # patients per kind of "may not be contacted"


@pytest.fixture(scope="module")
def clinic(world):
    """A clinic scored by the world's champion, with do-not-contact, deceased and
    no-consent patients set on purpose."""
    from features.simulator import simulate
    from training.registry import load_champion
    from training.scoring import score
    from training.snapshot_schema import finish_snapshot

    settings = world_settings(world.models_dir)
    bundle, version = load_champion(settings)
    tables = simulate(600, 21, "2022-01-01", "2024-06-30", clinic_id="east").tables
    patients = tables.patients.copy()
    ids = patients["patient_id"].to_numpy()
    dnc, dead, silent = ids[:BLOCKED], ids[BLOCKED:2 * BLOCKED], ids[2 * BLOCKED:3 * BLOCKED]
    patients["do_not_contact"] = pd.array(patients["patient_id"].isin(dnc), dtype="boolean")
    patients["deceased"] = pd.array(patients["patient_id"].isin(dead), dtype="boolean")
    for channel in CHANNELS:
        consent = patients[f"consent_{channel}"].astype("boolean")
        patients[f"consent_{channel}"] = consent.mask(patients["patient_id"].isin(silent), False)
    tables = dataclasses.replace(tables, patients=patients)
    as_of = pd.Timestamp(tables.export_date).normalize()
    snapshot = finish_snapshot(score(tables, as_of, bundle, settings), as_of, version)
    return settings, snapshot, {"dnc": dnc, "dead": dead, "silent": silent}


def test_the_snapshot_names_no_channel_for_patients_who_may_not_be_contacted(clinic) -> None:
    _, snapshot, blocked = clinic
    by_id = snapshot.set_index("patient_id")["best_channel"]
    for kind, ids in blocked.items():
        scored = by_id.reindex(ids).dropna()
        assert len(scored) > BLOCKED // 2, kind  # most of them have a visit, so are scored
        assert (scored == NO_ALLOWED_CHANNEL).all(), kind


def test_every_listed_patient_gets_the_snapshots_best_channel_from_rank(clinic) -> None:
    settings, snapshot, blocked = clinic
    index = build_index(snapshot, settings)
    selection = rank_patients(index, "east", RankFilters(), limit=len(snapshot))
    records = patient_records(index, selection, settings)
    assert len(records) > 100
    served = pd.Series({r["patient_id"]: r["best_channel"] for r in records})
    expected = snapshot.set_index("patient_id")["best_channel"].reindex(served.index)
    assert (served == expected).all()
    never = np.concatenate(list(blocked.values()))
    assert not served.index.isin(never).any()
