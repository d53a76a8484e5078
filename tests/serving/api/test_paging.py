"""Paging through /rank: every eligible patient once, in order; cursors bound to a snapshot."""

from __future__ import annotations

import base64
import json

from serving.api import paging
from serving.api.models import RankRequest
from tests.serving.conftest import auth

FILTERS = {"clinic_id": "north", "segments": ["lapsing", "inactive", "dormant", "lost"],
           "channels": ["sms", "email"], "explain": False}


def pages(client, token: str, size: int, **fields) -> list[dict]:
    answers, cursor = [], None
    while True:
        body = {**FILTERS, **fields, "limit": size} | ({"cursor": cursor} if cursor else {})
        answer = client.post("/rank", json=body, headers=auth(token))
        assert answer.status_code == 200, answer.text
        answers.append(answer.json())
        cursor = answers[-1]["next_cursor"]
        if cursor is None:
            return answers


def test_the_whole_list_page_by_page_is_every_eligible_patient_once_in_order(
    client, world
) -> None:
    whole = client.post("/rank", json={**FILTERS, "limit": 5000}, headers=auth(world.north_token))
    expected = whole.json()
    assert expected["next_cursor"] is None and expected["total_eligible"] > 200
    got = pages(client, world.north_token, 97)
    listed = [p for page in got for p in page["patients"]]
    assert [p["patient_id"] for p in listed] == [p["patient_id"] for p in expected["patients"]]
    assert [p["rank"] for p in listed] == list(range(1, expected["total_eligible"] + 1))
    assert len(got) == -(-expected["total_eligible"] // 97)
    assert {page["total_eligible"] for page in got} == {expected["total_eligible"]}


def test_paging_by_expected_value_follows_that_order_too(client, world) -> None:
    whole = client.post(
        "/rank", json={**FILTERS, "rank_by": "expected_value", "limit": 5000},
        headers=auth(world.north_token),
    ).json()
    listed = [p for page in pages(client, world.north_token, 250, rank_by="expected_value")
              for p in page["patients"]]
    assert [p["patient_id"] for p in listed] == [p["patient_id"] for p in whole["patients"]]


def test_a_cursor_of_an_older_snapshot_is_a_409_naming_the_reason(client, world) -> None:
    first = client.post("/rank", json={**FILTERS, "limit": 10}, headers=auth(world.north_token))
    cursor = first.json()["next_cursor"]
    payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    assert payload["l"] == paging.list_id(RankRequest(**{**FILTERS, "limit": 10}))
    # The same list and position, minted while another snapshot was served.
    stale = {**payload, "s": "0123456789abcdef"}
    token = base64.urlsafe_b64encode(json.dumps(stale).encode()).decode().rstrip("=")
    answer = client.post("/rank", json={**FILTERS, "limit": 10, "cursor": token},
                         headers=auth(world.north_token))
    assert answer.status_code == 409 and answer.json()["field"] == "cursor"
    assert "older scored snapshot" in answer.json()["error"]
    again = client.post("/rank", json={**FILTERS, "limit": 10, "cursor": cursor},
                        headers=auth(world.north_token))
    assert again.json()["patients"][0]["rank"] == 11


def test_a_cursor_sent_with_other_filters_or_made_up_is_a_400(client, world) -> None:
    first = client.post("/rank", json={**FILTERS, "limit": 10}, headers=auth(world.north_token))
    cursor = first.json()["next_cursor"]
    other = client.post("/rank", json={**FILTERS, "channels": ["sms"], "limit": 10,
                                       "cursor": cursor}, headers=auth(world.north_token))
    assert other.status_code == 400 and "other filters" in other.json()["error"]
    made_up = client.post("/rank", json={**FILTERS, "cursor": "eyJ2IjoxfQ"},
                          headers=auth(world.north_token))
    assert made_up.status_code == 400 and made_up.json()["field"] == "cursor"
