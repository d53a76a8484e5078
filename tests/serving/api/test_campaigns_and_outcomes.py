"""POST /campaigns and POST /outcomes in-process, and the very next /rank seeing the outcomes.

The module runs its own service on a private copy of the serving world, so the outcomes it
posts never reach the other tests' lists.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.config import Settings
from features.outcomes.events import clinic_now
from features.outcomes.store import OutcomeStore
from serving.api.campaigns import draw_holdout
from tests.serving.conftest import EnvPatch, World, auth, copy_world, service_env


def forget_bentoml_metrics() -> None:
    """Unregister BentoML's HTTP metrics so one more service app can start in this process.

    Each app registers the same Prometheus series; the session's shared client already did.
    """
    import prometheus_client

    registry = prometheus_client.REGISTRY
    for collector, names in list(registry._collector_to_names.items()):
        if any(name.startswith("bentoml_") for name in names):
            registry.unregister(collector)


def open_client(models_dir: Path, tokens_file: Path):
    from starlette.testclient import TestClient

    from serving.api.service import Reactivate

    forget_bentoml_metrics()
    return EnvPatch(service_env(models_dir, tokens_file)), TestClient(Reactivate.to_asgi())


@pytest.fixture(scope="module")
def models_dir(world: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_world(world, tmp_path_factory.mktemp("outcomes-world"))


@pytest.fixture(scope="module")
def api(world: World, models_dir: Path) -> Iterator:
    env, test_client = open_client(models_dir, world.tokens_file)
    with env, test_client as client:
        yield client
    forget_bentoml_metrics()  # let the next app (e.g. the session's shared one) register


def now_text() -> str:
    return clinic_now(Settings()).floor("s").isoformat()


def rank(api, world: World, **body) -> dict:
    body = {"clinic_id": "north", "limit": 20, "explain": False, **body}
    response = api.post("/rank", json=body, headers=auth(world.north_token))
    assert response.status_code == 200, response.text
    return response.json()


def post(api, world: World, events: list[dict], clinic_id: str = "north", token=None):
    return api.post("/outcomes", json={"clinic_id": clinic_id, "events": events},
                    headers=auth(token or world.north_token))


def listed(body: dict) -> list[str]:
    return [p["patient_id"] for p in body["patients"]]


def test_an_opt_out_takes_that_channel_away_on_the_very_next_rank(api, world) -> None:
    top = rank(api, world, channels=["email"])["patients"][0]
    pid = top["patient_id"]
    answer = post(api, world, [{"event_id": "opt-1", "patient_id": pid, "type": "opted_out",
                                "channel": "email", "at": now_text()}])
    assert answer.json() == {"accepted": 1, "duplicates": 0, "rejected": 0, "rejections": []}
    assert pid not in listed(rank(api, world, channels=["email"], limit=5000))
    everywhere = {p["patient_id"]: p for p in rank(api, world, limit=5000)["patients"]}
    if pid in everywhere:  # still listed on the channels left
        assert everywhere[pid]["best_channel"] != "email"
        assert "email" not in everywhere[pid]["channel_probabilities"]


def test_a_send_blocks_the_patient_until_the_spacing_has_passed(api, world) -> None:
    pid = rank(api, world)["patients"][0]["patient_id"]
    sent = {"event_id": "send-1", "patient_id": pid, "type": "sent", "channel": "sms",
            "at": now_text(), "cost": 0.05}
    assert post(api, world, [sent]).json()["accepted"] == 1
    assert pid not in listed(rank(api, world, limit=5000))
    later = (clinic_now(Settings()) + dt.timedelta(days=15)).date().isoformat()
    assert pid in listed(rank(api, world, limit=5000, on=later))


def test_a_booking_blocks_until_its_appointment_and_a_cancellation_puts_the_patient_back(
    api, world
) -> None:
    pid = rank(api, world)["patients"][0]["patient_id"]
    today = clinic_now(Settings())
    visit = (today + dt.timedelta(days=10)).floor("s")
    booked = {"event_id": "book-1", "patient_id": pid, "type": "booked", "at": now_text(),
              "appointment_at": visit.isoformat()}
    assert post(api, world, [booked]).json()["accepted"] == 1
    assert pid not in listed(rank(api, world, limit=5000))
    after_visit = (visit + dt.timedelta(days=1)).date().isoformat()
    assert pid in listed(rank(api, world, limit=5000, on=after_visit))
    cancelled = {"event_id": "cancel-1", "patient_id": pid, "type": "cancelled",
                 "at": now_text()}
    assert post(api, world, [cancelled]).json()["accepted"] == 1
    assert pid in listed(rank(api, world, limit=5000))


def score(api, world: World, ids: list[str], **body) -> dict:
    body = {"clinic_id": "north", "patient_ids": ids, "explain": False, **body}
    response = api.post("/score", json=body, headers=auth(world.north_token))
    assert response.status_code == 200, response.text
    return response.json()


def blocked_reasons(answer: dict) -> dict[str, list[str]]:
    return {b["patient_id"]: b["policy_reasons"] for b in answer["not_contactable"]}


def test_score_judges_named_patients_by_the_posted_outcomes_like_rank(api, world) -> None:
    top = [p["patient_id"] for p in rank(api, world, limit=3)["patients"]]
    opted, sent, booked = top
    everywhere = score(api, world, top)
    assert [p["patient_id"] for p in everywhere["patients"]] == top
    channels = {p["patient_id"]: p["best_channel"] for p in everywhere["patients"]}
    at = now_text()
    events = [
        {"event_id": "score-opt", "patient_id": opted, "type": "opted_out",
         "channel": channels[opted], "at": at},
        {"event_id": "score-sent", "patient_id": sent, "type": "sent", "channel": "sms",
         "at": at},
        {"event_id": "score-booked", "patient_id": booked, "type": "booked", "at": at},
    ]
    assert post(api, world, events).json()["accepted"] == 3
    answer = score(api, world, top)
    by_id = {p["patient_id"]: p for p in answer["patients"]}
    assert blocked_reasons(answer) == {sent: ["contacted_recently"], booked: ["booked"]}
    assert by_id[opted]["best_channel"] != channels[opted]  # listed on the channels left
    assert channels[opted] not in by_id[opted]["channel_probabilities"]
    only_that = score(api, world, [opted], channels=[channels[opted]])
    assert blocked_reasons(only_that) == {opted: ["no_allowed_channel"]}
    # /score and /rank agree on who is contactable
    listed_now = set(listed(rank(api, world, limit=5000)))
    assert {p for p in top if p in listed_now} == set(by_id)
    later = (clinic_now(Settings()) + dt.timedelta(days=15)).date().isoformat()
    assert sent in {p["patient_id"] for p in score(api, world, top, on=later)["patients"]}


def test_a_retried_batch_is_stored_once_and_a_changed_event_is_a_conflict(api, world) -> None:
    pid = rank(api, world)["patients"][0]["patient_id"]
    batch = [{"event_id": f"retry-{i}", "patient_id": pid, "type": "delivered",
              "channel": "sms", "at": now_text()} for i in range(3)]
    assert post(api, world, batch).json()["accepted"] == 3
    again = post(api, world, batch).json()
    assert (again["accepted"], again["duplicates"], again["rejected"]) == (0, 3, 0)
    changed = [{**batch[0], "type": "failed"}]
    assert post(api, world, changed).json()["rejections"] == [
        {"index": 0, "field": "event_id", "reason": "conflict"}]


def test_events_for_another_clinic_are_refused_and_nothing_of_them_is_stored(
    api, world, models_dir
) -> None:
    store = OutcomeStore.from_settings(Settings(models_dir=models_dir))
    before = store.count_events("south")
    event = {"event_id": "x-1", "patient_id": "P0000001", "type": "attended", "at": now_text()}
    assert post(api, world, [event], clinic_id="south").status_code == 403
    unknown = post(api, world, [{**event, "patient_id": "not-a-north-patient"}]).json()
    assert unknown["rejections"] == [
        {"index": 0, "field": "patient_id", "reason": "not a patient of this clinic"}]
    assert "not-a-north-patient" not in str(unknown)
    assert store.count_events("south") == before
    assert "not-a-north-patient" not in set(store.events_frame()["patient_id"])
    store.close()


def test_a_batch_over_ten_thousand_events_is_a_400(api, world) -> None:
    events = [{"event_id": str(i)} for i in range(10_001)]
    response = post(api, world, events)
    assert response.status_code == 400 and response.json()["field"] == "events"


def test_a_campaign_lists_only_its_treatment_arm_and_records_both_arms(
    api, world, models_dir
) -> None:
    body = {"clinic_id": "north", "campaign_id": "spring", "limit": 40, "holdout_share": 0.25,
            "seed": 11, "explain": True, "max_reasons": 2, "segments": ["lapsing", "inactive"]}
    full = rank(api, world, limit=40, segments=["lapsing", "inactive"])
    started = api.post("/campaigns", json=body, headers=auth(world.north_token))
    assert started.status_code == 200, started.text
    answer = started.json()
    store = OutcomeStore.from_settings(Settings(models_dir=models_dir))
    members = store.members_frame("north", "spring")
    store.close()
    held = members.loc[members["arm"] == "holdout", "patient_id"]
    treated = [p["patient_id"] for p in answer["treatment"]]
    assert answer["holdout_count"] == len(held) == 10
    assert len(members) == len(full["patients"]) == 40
    assert set(treated) == set(members.loc[members["arm"] == "treatment", "patient_id"])
    assert not set(held) & set(treated)
    assert not any(h in started.text for h in held)
    assert [p["rank"] for p in answer["treatment"]] == list(range(1, 31))
    # Reasons are capped by max_reasons; one too weak to move the score is left out.
    assert all(len(p["reasons"]) <= 2 for p in answer["treatment"])
    assert any(len(p["reasons"]) == 2 for p in answer["treatment"])
    expected = np.array(listed(full), dtype=object)[~draw_holdout(40, 0.25, 11)]
    assert treated == expected.tolist()  # the recorded seed reproduces the draw
    assert (members["assigned_at"] == members["assigned_at"].iloc[0]).all()
    again = api.post("/campaigns", json=body, headers=auth(world.north_token))
    assert again.status_code == 409 and again.json()["field"] == "campaign_id"


def test_the_holdout_draw_is_reproducible_from_its_seed_and_exact_in_size() -> None:
    first, second = draw_holdout(1000, 0.1, 5), draw_holdout(1000, 0.1, 5)
    assert (first == second).all() and first.sum() == 100
    assert not (draw_holdout(1000, 0.1, 6) == first).all()
    assert draw_holdout(0, 0.5, 1).sum() == 0


def test_campaign_results_count_the_posted_sends_and_bookings_against_the_holdout(
    api, world, models_dir
) -> None:
    body = {"clinic_id": "north", "campaign_id": "results-1", "limit": 20,
            "holdout_share": 0.5, "seed": 3, "explain": False}
    started = api.post("/campaigns", json=body, headers=auth(world.north_token))
    assert started.status_code == 200, started.text
    treated = [p["patient_id"] for p in started.json()["treatment"]]
    store = OutcomeStore.from_settings(Settings(models_dir=models_dir))
    held = store.members_frame("north", "results-1").query("arm == 'holdout'")["patient_id"]
    store.close()
    at = now_text()
    events = [{"event_id": f"r1-sent-{i}", "patient_id": p, "type": "sent", "channel": "sms",
               "campaign_id": "results-1", "at": at, "cost": 2.0}
              for i, p in enumerate(treated)]
    events += [{"event_id": f"r1-booked-{i}", "patient_id": p, "type": "booked", "at": at}
               for i, p in enumerate(treated[:4])]
    events += [{"event_id": "r1-held-booked", "patient_id": held.iloc[0], "type": "booked",
                "at": at}]
    events += [{"event_id": "r1-attended", "patient_id": treated[0], "type": "attended",
                "at": at, "revenue": 150.0}]
    assert post(api, world, events).json()["accepted"] == len(events)
    answer = api.get("/campaigns/results-1/results", params={"clinic_id": "north"},
                     headers=auth(world.north_token))
    assert answer.status_code == 200, answer.text
    results = answer.json()
    overall = results["overall"]
    assert (overall["contacted"], overall["booked"], overall["attended"]) == (10, 4, 1)
    assert (overall["cost"], overall["revenue"]) == (20.0, 150.0)
    lift = results["versus_holdout"]
    assert (lift["treatment"]["booked"], lift["holdout"]["booked"]) == (4, 1)
    assert lift["incremental_bookings"] == 3.0
    assert results["sources"]["visits"].startswith("none")
    assert not any(h in answer.text for h in held)


def results_from_the_store(models_dir: Path, campaign_id: str) -> dict:
    """The campaign's results computed from scratch: frames read from the store, segments
    from the served snapshot (what ``reactivate results --posted-only`` computes)."""
    from features.outcomes.frames import load_campaign_frames
    from training.campaign_results import campaign_results
    from training.scored_snapshot import latest_snapshot, read_snapshot

    settings = Settings(models_dir=models_dir)
    snapshot = read_snapshot(latest_snapshot(models_dir))
    north = snapshot[snapshot["clinic_id"] == "north"]
    segments = north.set_index("patient_id")["segment"].astype(object)
    frames = load_campaign_frames(settings, "north", campaign_id, None, None)
    results = campaign_results(frames.members, frames.events, frames.visits, settings,
                               campaign_id, segments=segments)
    return {"clinic_id": "north", **results,
            "sources": {**frames.sources, "segments": "served scored snapshot"}}


def test_results_after_further_batches_equal_results_computed_from_the_store(
    api, world, models_dir
) -> None:
    body = {"clinic_id": "north", "campaign_id": "results-2", "limit": 40,
            "holdout_share": 0.3, "seed": 5, "explain": False}
    started = api.post("/campaigns", json=body, headers=auth(world.north_token))
    assert started.status_code == 200, started.text
    settings = Settings(models_dir=models_dir)
    store = OutcomeStore.from_settings(settings)
    members = store.members_frame("north", "results-2")["patient_id"].tolist()
    others = [p for p in listed(rank(api, world, limit=200)) if p not in members][:5]
    rng = np.random.default_rng(11)
    now = clinic_now(settings).floor("s")
    kinds = ["sent", "delivered", "replied", "clicked", "opted_out", "booked", "attended",
             "no_show", "cancelled"]

    def batch(tag: str, size: int) -> list[dict]:
        events = []
        for i in range(size):
            kind = str(rng.choice(kinds))
            patient = str(rng.choice(members + others))
            event = {"event_id": f"r2-{tag}-{i}", "patient_id": patient, "type": kind,
                     "at": (now - dt.timedelta(hours=int(rng.integers(0, 48)))).isoformat()}
            if kind in ("sent", "delivered", "replied", "clicked", "opted_out"):
                event["channel"] = str(rng.choice(["sms", "email", "phone"]))
                event["campaign_id"] = str(rng.choice(["results-2", "results-1"]))
            if kind == "sent" and rng.random() < 0.5:
                event["cost"] = round(float(rng.uniform(0.1, 3.0)), 2)
            if kind == "attended":
                event["revenue"] = round(float(rng.uniform(20, 400)), 2)
            events.append(event)
        return events

    first = api.get("/campaigns/results-2/results", params={"clinic_id": "north"},
                    headers=auth(world.north_token)).json()
    assert first["overall"]["contacted"] == 0
    for b in range(3):
        assert post(api, world, batch(str(b), 60)).json()["rejected"] == 0
        answer = api.get("/campaigns/results-2/results", params={"clinic_id": "north"},
                         headers=auth(world.north_token))
        assert answer.status_code == 200, answer.text
        assert answer.json() == json.loads(json.dumps(results_from_the_store(models_dir,
                                                                             "results-2")))
    # a batch stored by another writer (``reactivate outcomes import``) is read on the next
    # request too
    from features.outcomes.ingest import ingest

    ingest(store, "north", batch("import", 40), pd.Index(members + others), settings)
    store.close()
    answer = api.get("/campaigns/results-2/results", params={"clinic_id": "north"},
                     headers=auth(world.north_token)).json()
    assert answer == json.loads(json.dumps(results_from_the_store(models_dir, "results-2")))
    assert answer["overall"]["contacted"] > 0 and answer["versus_holdout"]["holdout"]["members"]


def test_campaign_results_are_404_for_an_unknown_campaign_and_403_outside_the_scope(
    api, world
) -> None:
    unknown = api.get("/campaigns/never-started/results", params={"clinic_id": "north"},
                      headers=auth(world.north_token))
    assert unknown.status_code == 404 and unknown.json()["field"] == "campaign_id"
    other = api.get("/campaigns/results-1/results", params={"clinic_id": "north"},
                    headers=auth(world.south_token))
    assert other.status_code == 403
    bare = api.get("/campaigns/results-1/results", params={"clinic_id": "north"})
    assert bare.status_code == 401


# Last: a second service in this process unbinds the first one's plain FastAPI routes.
def test_a_restarted_service_keeps_every_outcome(api, world, models_dir) -> None:
    pid = rank(api, world)["patients"][0]["patient_id"]
    sent = {"event_id": "restart-1", "patient_id": pid, "type": "sent", "channel": "email",
            "at": now_text()}
    assert post(api, world, [sent]).json()["accepted"] == 1
    env, test_client = open_client(models_dir, world.tokens_file)
    with env, test_client as restarted:
        assert pid not in listed(rank(restarted, world, limit=5000))
        assert post(restarted, world, [sent]).json()["duplicates"] == 1
    forget_bentoml_metrics()

