"""The coded event log: batches taken in from memory equal what reading the store gives."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from features.outcomes.event_log import EventLog
from features.outcomes.ingest import ingest
from tests.features.outcomes.conftest import sent

PATIENTS = pd.Index(["p1", "p2", "p3", "p4"])


def batch(tag: str, n: int) -> list[dict]:
    rng = np.random.default_rng(len(tag) * 100 + n)
    events = []
    for i in range(n):
        patient = str(rng.choice(PATIENTS))
        at = f"2024-03-{1 + i % 27:02d}T10:{i % 60:02d}:00.123456+01:00"
        if i % 3 == 0:
            events.append(sent(f"{tag}-{i}", patient, at, cost=float(i % 4) or None))
        elif i % 3 == 1:
            events.append({"event_id": f"{tag}-{i}", "patient_id": patient, "at": at,
                           "type": "attended", "revenue": 10.5 + i})
        else:
            events.append({"event_id": f"{tag}-{i}", "patient_id": patient, "at": at,
                           "type": "booked", "appointment_at": "2024-04-02T09:00:00"})
    return events


def arrays(log: EventLog, clinic: str) -> dict:
    view = log.clinic(clinic).view()
    return {k: v for k, v in dataclasses.asdict(view).items() if k != "version"}


def test_batches_coded_from_memory_equal_the_rows_read_back(store, settings) -> None:
    served = EventLog(store)
    served.catch_up()
    for tag in ("a", "b", "c"):
        result = ingest(store, "north", batch(tag, 30), PATIENTS, settings)
        assert result.seqs is not None
        served.add_batch("north", result.stored, result.seqs)
    # another writer's batch: the next batch's seqs do not follow the log's, so it reads
    ingest(store, "north", batch("other", 7), PATIENTS, settings)
    result = ingest(store, "north", batch("d", 11), PATIENTS, settings)
    served.add_batch("north", result.stored, result.seqs)
    fresh = EventLog(store)
    fresh.catch_up()
    assert served.seq == fresh.seq == store.count_events()
    ours, theirs = arrays(served, "north"), arrays(fresh, "north")
    assert set(ours) == set(theirs)
    for name in ours:
        np.testing.assert_array_equal(ours[name], theirs[name], err_msg=name)
    assert len(ours["patient"]) == 30 * 3 + 7 + 11


def test_a_patient_touched_by_a_batch_is_reported_since_the_version_before(
    store, settings
) -> None:
    log = EventLog(store)
    result = ingest(store, "north", [sent("t1", "p2")], PATIENTS, settings)
    log.add_batch("north", result.stored, result.seqs)
    clinic = log.clinic("north")
    before = clinic.version
    result = ingest(store, "north", [sent("t2", "p3"), sent("t3", "p3")], PATIENTS, settings)
    log.add_batch("north", result.stored, result.seqs)
    touched = clinic.touched_since(before)
    assert clinic.ids[touched].tolist() == ["p3"]
    assert clinic.touched_since(clinic.version).size == 0
