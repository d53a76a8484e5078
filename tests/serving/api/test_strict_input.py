"""Strict input in process: no coercion, empty filter lists alike, values matched as spelled."""

from __future__ import annotations

import pytest

from serving.api.errors import ApiError
from tests.serving.conftest import auth

COERCED = [
    ("/rank", {"limit": "10"}, "limit"),
    ("/rank", {"limit": True}, "limit"),
    ("/rank", {"limit": 10.0}, "limit"),
    ("/rank", {"explain": "yes"}, "explain"),
    ("/rank", {"explain": 1}, "explain"),
    ("/rank", {"min_days_since_visit": "30"}, "min_days_since_visit"),
    ("/rank", {"on": 20240101}, "on"),
    ("/score", {"patient_ids": "P1"}, "patient_ids"),
    ("/score", {"patient_ids": [1, 2]}, "patient_ids"),
    ("/outcomes", {"events": {"event_id": "e"}}, "events"),
]


@pytest.mark.parametrize(("path", "fields", "field"), COERCED)
def test_a_value_of_the_wrong_type_is_a_400_naming_the_field_without_echoing_it(
    client, world, path: str, fields: dict, field: str
) -> None:
    body = {"clinic_id": "south", **({"patient_ids": ["P1"]} if path == "/score" else {})}
    answer = client.post(path, json={**body, **fields}, headers=auth(world.south_token))
    assert answer.status_code == 400, answer.text
    assert answer.json()["field"] == field
    assert repr(fields[field]) not in answer.text and '"10"' not in answer.text


@pytest.mark.parametrize("field", ["segments", "services", "location_ids", "provider_ids",
                                   "channels"])
def test_every_empty_filter_list_is_refused_alike(client, world, field: str) -> None:
    answer = client.post("/rank", json={"clinic_id": "south", field: []},
                         headers=auth(world.south_token))
    assert answer.status_code == 400 and answer.json()["field"] == field


def test_filter_values_are_matched_as_the_export_spells_them(client, world) -> None:
    snapshot = world.snapshot[world.snapshot["clinic_id"] == "south"]
    service = snapshot["last_service"].dropna().iloc[0]
    spelled = client.post("/rank", json={"clinic_id": "south", "services": [service],
                                         "explain": False}, headers=auth(world.south_token))
    assert spelled.status_code == 200 and spelled.json()["total_eligible"] > 0
    shouted = client.post("/rank", json={"clinic_id": "south", "services": [service.upper()]},
                          headers=auth(world.south_token))
    assert shouted.status_code == 400 and shouted.json()["field"] == "services"
    assert repr(service.upper()) in shouted.json()["error"]
    assert repr(service) in shouted.json()["error"]  # a known one is offered


def test_a_location_of_another_clinic_is_unknown_here_and_not_offered(world) -> None:
    from serving.api.handlers import check_filter_values
    from serving.api.models import RankRequest
    from serving.targeting.index import build_index
    from tests.serving.conftest import world_settings

    frame = world.snapshot.copy()
    frame.loc[frame["clinic_id"] == "north", "location_id"] = "north-only"
    index = build_index(frame, world_settings(world.models_dir))
    with pytest.raises(ApiError) as refused:
        check_filter_values(index, RankRequest(clinic_id="south", location_ids=["north-only"]))
    assert refused.value.status == 400 and refused.value.field == "location_ids"
    assert refused.value.message.count("north-only") == 1  # named as unknown, never offered
    check_filter_values(index, RankRequest(clinic_id="north", location_ids=["north-only"]))


def test_non_json_and_oversize_bodies_are_415_and_413(client, world) -> None:
    headers = auth(world.south_token)
    text = client.post("/rank", content=b'{"clinic_id": "south"}',
                       headers={**headers, "Content-Type": "text/plain"})
    assert text.status_code == 415 and text.json()["field"] == "Content-Type"
    big = client.post("/rank", content=b" " * 1_000_001 + b"{}",
                      headers={**headers, "Content-Type": "application/json"})
    assert big.status_code == 413
    batch = client.post("/outcomes", content=b" " * 1_000_001 + b'{"clinic_id": "south"}',
                        headers={**headers, "Content-Type": "application/json"})
    assert batch.status_code == 400  # outcome batches may be larger: parsed, then refused
