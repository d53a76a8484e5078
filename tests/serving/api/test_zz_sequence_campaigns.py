"""Sequence campaigns in-process: the planned sequences, the due list re-planned on the very
next call after each outcome, and sequence members kept off other lists while they rest.

The module runs its own service (sequences of two attempts, set through the environment) on
a private copy of the serving world. Its file name puts it last in this folder: BentoML binds
its plain GET routes to the newest service instance of the process, so a second in-process
service leaves the shared test client's /model and /drift unbound for later modules.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.config import Settings
from features.outcomes.events import clinic_now
from features.outcomes.store import OutcomeStore
from tests.serving.api.test_campaigns_and_outcomes import forget_bentoml_metrics
from tests.serving.conftest import EnvPatch, World, auth, copy_world, service_env

ATTEMPTS = 2
TODAY = clinic_now(Settings()).date()


@pytest.fixture(scope="module")
def models_dir(world: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_world(world, tmp_path_factory.mktemp("sequence-world"))


@pytest.fixture(scope="module")
def api(world: World, models_dir: Path) -> Iterator:
    from starlette.testclient import TestClient

    from serving.api.service import Reactivate

    forget_bentoml_metrics()
    env = {**service_env(models_dir, world.tokens_file),
           "REACTIVATE_POLICY__SEQUENCES__MAX_ATTEMPTS": str(ATTEMPTS)}
    with EnvPatch(env), TestClient(Reactivate.to_asgi()) as client:
        yield client
    forget_bentoml_metrics()


def start(api, world: World, campaign_id: str, **body) -> dict:
    body = {"clinic_id": "north", "campaign_id": campaign_id, "limit": 16, "explain": False,
            "holdout_share": 0.25, "seed": 3, "sequence": True, "on": TODAY.isoformat(),
            **body}
    response = api.post("/campaigns", json=body, headers=auth(world.north_token))
    assert response.status_code == 200, response.text
    return response.json()


def due(api, world: World, campaign_id: str, on: dt.date, token=None) -> dict[str, tuple]:
    response = api.get(f"/campaigns/{campaign_id}/due",
                       params={"clinic_id": "north", "on": on.isoformat()},
                       headers=auth(token or world.north_token))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["campaign_id"] == campaign_id and body["on"] == on.isoformat()
    return {d["patient_id"]: (d["attempt"], d["channel"]) for d in body["due"]}


def post(api, world: World, events: list[dict]) -> None:
    response = api.post("/outcomes", json={"clinic_id": "north", "events": events},
                        headers=auth(world.north_token))
    assert response.status_code == 200 and response.json()["rejected"] == 0, response.text


def event(kind: str, pid: str, campaign_id: str, channel: str | None, n: int) -> dict:
    at = clinic_now(Settings()).isoformat()  # after the campaign started, in posting order
    out = {"event_id": f"{campaign_id}-{kind}-{pid}-{n}", "patient_id": pid, "type": kind,
           "at": at, "campaign_id": campaign_id}
    return out | ({"channel": channel} if channel else {})


def day(offset: int) -> dt.date:
    return TODAY + dt.timedelta(days=offset)


def test_every_treatment_record_carries_a_spaced_sequence_and_the_store_marks_it(
    api, world, models_dir
) -> None:
    body = start(api, world, "seq-plan")
    config = Settings().policy.sequences
    for record in body["treatment"]:
        plan = record["sequence"]
        assert [a["attempt"] for a in plan] == list(range(1, len(plan) + 1))
        assert 1 <= len(plan) <= ATTEMPTS
        assert plan[0]["send_on"] == TODAY.isoformat()
        days = pd.to_datetime([a["send_on"] for a in plan])
        gaps = (days[1:] - days[:-1]).days
        assert ((gaps >= config.min_gap_days) & (gaps <= config.max_gap_days)).all()
        assert set(a["channel"] for a in plan) <= set(record["channel_probabilities"])
    # Two channels whenever two are worth using: a call must also cover its cost.
    two_or_more = [r for r in body["treatment"]
                   if len(set(r["channel_probabilities"]) - {"phone"}) >= 2
                   and len(r["sequence"]) >= 2]
    assert two_or_more and all(len({a["channel"] for a in r["sequence"]}) >= 2
                               for r in two_or_more)
    store = OutcomeStore.from_settings(Settings(models_dir=models_dir))
    try:
        assert store.campaign("north", "seq-plan")["request"]["sequence"] is True
    finally:
        store.close()


def test_the_due_list_is_the_plan_when_nothing_came_back_and_never_names_the_holdout(
    api, world, models_dir
) -> None:
    body = start(api, world, "seq-due")
    plans = {r["patient_id"]: r["sequence"] for r in body["treatment"]}
    assert due(api, world, "seq-due", day(-1)) == {}
    assert due(api, world, "seq-due", TODAY) == {
        pid: (1, plan[0]["channel"]) for pid, plan in plans.items()}
    store = OutcomeStore.from_settings(Settings(models_dir=models_dir))
    members = store.members_frame("north", "seq-due")
    store.close()
    held = set(members.loc[members["arm"].eq("holdout"), "patient_id"])
    assert held and not held & set(due(api, world, "seq-due", day(60)))


def test_each_outcome_changes_the_due_list_on_the_very_next_call(api, world) -> None:
    body = start(api, world, "seq-replan", limit=40)
    plans = {r["patient_id"]: r["sequence"] for r in body["treatment"]}
    full = [r for r in body["treatment"] if len(r["sequence"]) == ATTEMPTS]
    # the replier can be called, and was not planned a call next: the reply must move it
    replier = next(r["patient_id"] for r in full if "phone" in r["channel_probabilities"]
                   and r["sequence"][1]["channel"] != "phone")
    sender, booker, opter = [r["patient_id"] for r in full if r["patient_id"] != replier][:3]

    first = plans[sender][0]["channel"]
    post(api, world, [event("sent", sender, "seq-replan", first, 1)])
    assert sender not in due(api, world, "seq-replan", TODAY)
    second = due(api, world, "seq-replan", day(Settings().policy.sequences.min_gap_days))
    assert second[sender] == (2, plans[sender][1]["channel"])

    post(api, world, [event("booked", booker, "seq-replan", None, 2)])
    assert all(booker not in due(api, world, "seq-replan", day(d)) for d in (0, 20, 60))

    channel = plans[opter][0]["channel"]
    post(api, world, [event("sent", opter, "seq-replan", channel, 3),
                      event("opted_out", opter, "seq-replan", channel, 4)])
    later = due(api, world, "seq-replan", day(30))
    assert opter not in later or later[opter][1] != channel

    channel = plans[replier][0]["channel"]
    post(api, world, [event("sent", replier, "seq-replan", channel, 5),
                      event("replied", replier, "seq-replan", channel, 6)])
    assert due(api, world, "seq-replan", day(30))[replier] == (2, "phone")


def fresh_due(models_dir: Path, campaign_id: str, on: dt.date) -> dict[str, tuple]:
    """The due list a service started afresh on the same store computes (every member
    planned from every stored outcome), in process."""
    import json

    from serving.api import campaigns
    from serving.api.state import ServingState

    settings = Settings(models_dir=models_dir,
                        policy={"sequences": {"max_attempts": ATTEMPTS}})
    state = ServingState(settings)
    state.refresh()
    outcomes = campaigns.Outcomes(settings)
    outcomes.filled.join()
    try:
        body = json.loads(campaigns.due_json(state.current, outcomes, "north", campaign_id, on))
    finally:
        outcomes.close()
        state.stop()
    return {d["patient_id"]: (d["attempt"], d["channel"]) for d in body["due"]}


def test_due_lists_re_planned_batch_by_batch_equal_a_fresh_services(
    api, world, models_dir
) -> None:
    body = start(api, world, "seq-fresh", limit=40)
    plans = {r["patient_id"]: r["sequence"] for r in body["treatment"]}
    ids = sorted(plans)
    rng = np.random.default_rng(4)
    days = (0, 7, 14, 30)
    for b in range(3):
        events = []
        for i in range(12):
            pid = str(rng.choice(ids))
            kind = str(rng.choice(["sent", "sent", "replied", "clicked", "opted_out", "booked"]))
            channel = None if kind == "booked" else str(rng.choice(["sms", "email"]))
            events.append(event(kind, pid, "seq-fresh", channel, b * 100 + i))
        post(api, world, events)
        served = {d: due(api, world, "seq-fresh", day(d)) for d in days}
    assert served[0] != {p: (1, plan[0]["channel"]) for p, plan in plans.items() if plan}
    for d in days:
        assert served[d] == fresh_due(models_dir, "seq-fresh", day(d)), d


def test_a_new_served_pair_prepares_the_stored_campaigns_before_any_request(
    api, world, models_dir
) -> None:
    import json

    from serving.api import campaigns
    from serving.api.state import ServingState

    start(api, world, "seq-warm", limit=24)
    settings = Settings(models_dir=models_dir,
                        policy={"sequences": {"max_attempts": ATTEMPTS}})
    state = ServingState(settings)
    state.refresh()
    outcomes = campaigns.Outcomes(settings)
    try:
        served = state.current
        outcomes.warm(served).join()
        key = (served.snapshot_key, served.version, "north", "seq-warm")
        assert key in outcomes.sequences._progress
        assert ("north", "seq-warm") in outcomes.results._segments
        body = json.loads(campaigns.due_json(served, outcomes, "north", "seq-warm", day(0)))
    finally:
        outcomes.close()
        state.stop()
    assert {d["patient_id"]: (d["attempt"], d["channel"]) for d in body["due"]} == fresh_due(
        models_dir, "seq-warm", day(0))


def test_sequence_members_are_kept_off_other_lists_while_running_and_resting(api, world) -> None:
    body = start(api, world, "seq-rest", limit=8)
    pid = next(r["patient_id"] for r in body["treatment"] if len(r["sequence"]) == ATTEMPTS)

    def listed(on: dt.date) -> bool:
        answer = api.post("/rank", json={"clinic_id": "north", "limit": 2000, "explain": False,
                                         "on": on.isoformat()}, headers=auth(world.north_token))
        assert answer.status_code == 200
        return pid in {p["patient_id"] for p in answer.json()["patients"]}

    assert not listed(day(30))  # running: its next attempt is still to come
    plan = body["treatment"][[r["patient_id"] for r in body["treatment"]].index(pid)]["sequence"]
    post(api, world, [event("sent", pid, "seq-rest", a["channel"], 10 + a["attempt"])
                      for a in plan])
    assert not due(api, world, "seq-rest", day(90)).get(pid)  # the sequence is over
    rest = Settings().policy.sequences.rest_days
    assert not listed(day(rest - 5))
    assert listed(day(rest + 5))


def test_due_refuses_unknown_campaigns_other_clinics_and_campaigns_without_sequences(
    api, world
) -> None:
    url = "/campaigns/nope/due"
    params = {"clinic_id": "north", "on": TODAY.isoformat()}
    assert api.get(url, params=params, headers=auth(world.north_token)).status_code == 404
    assert api.get(url, params=params).status_code == 401
    south = api.get(url, params=params, headers=auth(world.south_token))
    assert south.status_code == 403
    start(api, world, "one-shot", sequence=False, limit=4)
    plain = api.get("/campaigns/one-shot/due", params=params, headers=auth(world.north_token))
    assert plain.status_code == 409
