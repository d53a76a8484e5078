"""Stored outcomes join the export on the Spark engine as on pandas, through the same merge.

``reactivate score`` folds the outcome store's posted contacts and campaign members into the
export before features (``features.outcomes.merge.merge_from_settings``); the Spark engine
does it inside each clinic's task with the same function, and must give the same snapshot.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.outcomes.ingest import ingest
from features.outcomes.merge import merge_from_settings
from features.outcomes.store import OutcomeStore
from tests.serving.batch.conftest import AS_OF, assert_same_rows, skip_without_spark

skip_without_spark()

from serving.batch.per_clinic import JobSpec, clinic_rows  # noqa: E402
from serving.batch.spark_engine import run_job  # noqa: E402
from training.scored_snapshot import read_snapshot  # noqa: E402


def post_outcomes(store: OutcomeStore, tables, settings) -> None:
    """Recent sends (some answered, a few opted out) and one campaign, in two of the clinics."""
    patients = tables.patients
    for clinic in ("north", "south"):
        ids = patients.loc[patients["clinic_id"] == clinic, "patient_id"].astype(str)
        chosen = ids.iloc[::4].tolist()
        if clinic == "north":
            store.create_campaign(
                clinic, "spring", name=None, started_at=pd.Timestamp("2026-05-01"),
                holdout_share=0.5, seed=3, request={}, members=pd.DataFrame({
                    "patient_id": chosen, "arm": ["treatment", "holdout"] * (len(chosen) // 2)
                    + ["treatment"] * (len(chosen) % 2), "channel": "sms"}))
        events = []
        for k, pid in enumerate(chosen):
            channel = ("sms", "email")[k % 2]
            for day in ("2026-05-12T10:00:00", "2026-06-16T10:00:00"):
                events.append({"event_id": f"{clinic}-{pid}-{day}", "patient_id": pid,
                               "type": "sent", "channel": channel, "at": day,
                               **({"campaign_id": "spring"} if clinic == "north" else {})})
            if k % 3 == 0:
                events.append({"event_id": f"{clinic}-{pid}-r", "patient_id": pid,
                               "type": "replied", "channel": channel,
                               "at": "2026-06-17T09:00:00"})
            if k % 7 == 0:
                events.append({"event_id": f"{clinic}-{pid}-o", "patient_id": pid,
                               "type": "opted_out", "channel": channel,
                               "at": "2026-06-18T09:00:00"})
        result = ingest(store, clinic, events, pd.Index(ids), settings,
                        now=AS_OF + pd.Timedelta(days=1))
        assert result.accepted == len(events), result.rejected[:3]


def test_a_spark_snapshot_with_stored_outcomes_equals_the_pandas_one(spark, group, tmp_path):
    folder, tables, settings, bundle = group
    settings = settings.model_copy(update={"models_dir": tmp_path / "models"})
    store = OutcomeStore.from_settings(settings)
    try:
        post_outcomes(store, tables, settings)
    finally:
        store.close()
    spec = JobSpec(kind="score", as_of=AS_OF, model_version="7")
    merged = merge_from_settings(tables, settings)
    assert len(merged.contacts) > len(tables.contacts)
    expected = clinic_rows(merged, spec, settings, bundle)
    out = run_job(spark, str(folder), JobSpec(**{**spec.__dict__, "merge_outcomes": True}),
                  settings, tmp_path / "scored_2026-06-30.parquet", bundle)
    got = read_snapshot(out)
    assert len(got) == len(expected) > 0
    assert got.dtypes.astype(str).tolist() == expected.dtypes.astype(str).tolist()
    assert_same_rows(expected, got)
    # the outcomes changed the answers, so equal snapshots say the merge ran on Spark too
    unmerged = clinic_rows(tables, spec, settings, bundle).set_index("patient_id")
    before = unmerged["return_probability"].reindex(expected["patient_id"]).to_numpy()
    moved = np.abs(expected["return_probability"].to_numpy() - before)
    assert (moved > 1e-6).sum() > 10
