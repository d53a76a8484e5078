"""Every endpoint of the real service, in process, on the session's trained world."""

from __future__ import annotations

import numpy as np
import pytest

from features.vocabulary import CHANNELS
from serving.targeting.kinds import KINDS
from tests.serving.conftest import auth


def rank(client, token, **body):
    return client.post("/rank", json=body, headers=auth(token))


def test_rank_lists_the_best_contactable_patients_with_reasons(client, world) -> None:
    response = rank(client, world.north_token, clinic_id="north", limit=25, rank_by="probability")
    assert response.status_code == 200, response.text
    body = response.json()
    patients = body["patients"]
    assert body["ordering"] == "probability" and body["ordering_reason"]
    assert body["model_version"] == "1" and body["snapshot_as_of"] == str(world.as_of.date())
    assert len(patients) == 25 and body["total_eligible"] >= 25
    assert [p["rank"] for p in patients] == list(range(1, 26))
    probabilities = [p["return_probability"] for p in patients]
    assert probabilities == sorted(probabilities, reverse=True)
    for patient in patients:
        assert patient["best_channel"] in patient["channel_probabilities"]
        assert len(patient["reasons"]) <= 3
        for reason in patient["reasons"]:
            assert reason["text"] and abs(reason["contribution"]) >= 0.15  # min effect
    assert sum(1 for p in patients if p["reasons"]) >= 20  # the top list has strong reasons
    first = patients[0]["reasons"]
    if patients[0]["patient_kind"] != "unlikely to respond":  # raising reasons first
        assert first == sorted(first, key=lambda r: (r["contribution"] < 0,
                                                     -abs(r["contribution"])))


def test_listed_patients_are_the_snapshot_top_after_the_policy(client, world) -> None:
    snap = world.snapshot[world.snapshot.clinic_id == "north"]
    body = rank(client, world.north_token, clinic_id="north", limit=5000, explain=False).json()
    listed = snap.set_index("patient_id").loc[[p["patient_id"] for p in body["patients"]]]
    assert not listed["do_not_contact"].fillna(False).any()
    assert not listed["deceased"].fillna(False).any()
    assert not listed["has_booked_appointment"].fillna(False).any()
    assert (listed["contacts_180d"] < 5).all()
    assert not (listed["days_since_last_contact"] < 14).any()
    assert body["total_eligible"] == len(body["patients"]) < len(snap)


def test_explanations_match_shap_tree_explainer_and_sum_to_the_raw_score(client, world) -> None:
    import shap

    from serving.targeting.reasons import topic_members
    from tests.serving.conftest import world_settings
    from training.registry import load_champion

    body = rank(client, world.north_token, clinic_id="north", limit=10, max_reasons=10,
                rank_by="probability").json()
    assert body["reasons_explain"] == "return_probability"
    bundle, _ = load_champion(world_settings(world.models_dir))
    snap = world.snapshot[world.snapshot.clinic_id == "north"].set_index("patient_id")
    rows = snap.loc[[p["patient_id"] for p in body["patients"]]]
    matrix = bundle.matrix(rows)
    shap_values = shap.TreeExplainer(bundle.return_model.booster).shap_values(matrix)
    shap_values = np.asarray(shap_values).reshape(len(rows), -1)[:, : len(bundle.features)]
    native = bundle.explain(rows)
    assert np.allclose(native[bundle.features].to_numpy(), shap_values, atol=1e-5)
    raw = bundle.return_model.booster.predict(matrix, raw_score=True)
    assert np.allclose(native.sum(axis=1).to_numpy(), raw, atol=1e-5)
    _reasons_are_topic_sums(body, shap_values, bundle.features, topic_members)


def test_uplift_lists_are_explained_by_the_uplift_learners_own_shap(client, world) -> None:
    import shap

    from serving.targeting.reasons import topic_members
    from tests.serving.conftest import world_settings
    from training.registry import load_champion

    bundle, _ = load_champion(world_settings(world.models_dir))
    body = rank(client, world.north_token, clinic_id="north", limit=10, max_reasons=10,
                rank_by="incremental_value").json()
    if not bundle.explains_uplift:
        assert body["reasons_explain"] == "return_probability"
        return
    assert body["ordering"] == "incremental_value" and body["reasons_explain"] == "uplift"
    snap = world.snapshot[world.snapshot.clinic_id == "north"].set_index("patient_id")
    rows = snap.loc[[p["patient_id"] for p in body["patients"]]]
    pull = bundle.uplift_model.learner.pull_  # uplift_c = k_c x g(x) x tilt_c: g explains it
    shap_values = np.asarray(shap.TreeExplainer(pull).shap_values(bundle.matrix(rows)))
    shap_values = shap_values.reshape(len(rows), -1)[:, : len(bundle.features)]
    _reasons_are_topic_sums(body, shap_values, bundle.features, topic_members)


def _reasons_are_topic_sums(body, shap_values, features, topic_members) -> None:
    position = {f: i for i, f in enumerate(features)}
    for row, patient in enumerate(body["patients"]):
        for reason in patient["reasons"]:
            members = [position[f] for f in topic_members(reason["feature"], features)]
            expected = shap_values[row, members].sum()
            assert reason["contribution"] == pytest.approx(expected, abs=1e-5)


def test_explain_false_gives_no_reasons(client, world) -> None:
    body = rank(client, world.north_token, clinic_id="north", limit=5, explain=False).json()
    assert all(p["reasons"] == [] for p in body["patients"])


def test_filters_and_campaign_channels_shape_the_list(client, world) -> None:
    body = rank(
        client,
        world.north_token,
        clinic_id="north",
        segments=["lapsing", "inactive"],
        channels=["email"],
        min_days_since_visit=100,
        limit=50,
        rank_by="expected_value",
    ).json()
    assert body["patients"]
    values = [p["expected_value"] for p in body["patients"]]
    assert values == sorted(values, reverse=True)
    for patient in body["patients"]:
        assert patient["segment"] in {"lapsing", "inactive"}
        assert patient["best_channel"] == "email"
        assert set(patient["channel_probabilities"]) == {"email"}
        assert patient["days_since_last_visit"] >= 100


def test_rank_without_rank_by_uses_the_models_default_ordering_and_says_why(client, world) -> None:
    info = client.get("/model", headers=auth(world.north_token)).json()
    body = rank(client, world.north_token, clinic_id="north", limit=10).json()
    assert body["ordering"] == info["default_ordering"]
    assert body["ordering_reason"] == info["ordering_reason"] != ""
    kinds = {p["patient_kind"] for p in body["patients"]}
    if info["uplift_available"]:
        assert kinds <= set(KINDS) and None not in kinds
        assert all(p["uplift"] is not None for p in body["patients"])
    else:
        assert kinds == {None} and body["ordering"] == "probability"


def test_score_returns_records_blocked_patients_and_unknown_ids(client, world) -> None:
    snap = world.snapshot[world.snapshot.clinic_id == "north"]
    blocked = snap[snap["do_not_contact"].fillna(False)].patient_id.iloc[0]
    ranked = rank(client, world.north_token, clinic_id="north", limit=3,
                  rank_by="probability").json()["patients"]
    ids = [ranked[2]["patient_id"], blocked, "nobody-here"]
    response = client.post(
        "/score", json={"clinic_id": "north", "patient_ids": ids, "rank_by": "probability"},
        headers=auth(world.north_token)
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ordering"] == "probability"
    assert [p["patient_id"] for p in body["patients"]] == [ids[0]]
    assert body["patients"][0]["rank"] == 3
    assert body["patients"][0]["reasons"] == ranked[2]["reasons"]
    assert body["not_contactable"][0]["patient_id"] == blocked
    assert "do_not_contact" in body["not_contactable"][0]["policy_reasons"]
    assert body["not_found"] == ["nobody-here"]


@pytest.mark.parametrize("rank_by", [None, "probability", "incremental_value", "uplift"])
def test_score_ranks_follow_the_same_ordering_rule_as_rank(client, world, rank_by) -> None:
    asked = {} if rank_by is None else {"rank_by": rank_by}
    listed = rank(client, world.north_token, clinic_id="north", limit=40, explain=False,
                  **asked).json()
    ids = [p["patient_id"] for p in listed["patients"]][::-3]  # some, out of order
    body = client.post("/score", json={"clinic_id": "north", "patient_ids": ids,
                                       "explain": False, **asked},
                       headers=auth(world.north_token)).json()
    assert (body["ordering"], body["ordering_reason"]) == (listed["ordering"],
                                                           listed["ordering_reason"])
    by_id = {p["patient_id"]: p["rank"] for p in listed["patients"]}
    assert [(p["patient_id"], p["rank"]) for p in body["patients"]] == \
        [(i, by_id[i]) for i in ids]


def test_model_reports_version_window_metrics_and_features(client, world) -> None:
    response = client.get("/model", headers=auth(world.south_token))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["version"] == "1" and body["alias"] == "champion"
    assert body["features"] and "days_since_last_visit" in body["features"]
    assert body["metrics"] and body["training_window"]
    assert body["snapshot_rows"] == len(world.snapshot)
    assert body["reload"]["last_error"] is None


def test_drift_is_404_with_a_message_until_a_summary_exists(client, world) -> None:
    from serving.monitoring.drift import summary_paths
    from training.scored_snapshot import latest_snapshot

    response = client.get("/drift", headers=auth(world.north_token))
    assert response.status_code == 404 and "drift" in response.json()["error"]
    path = summary_paths(latest_snapshot(world.models_dir))[1]
    path.write_text('{"drifted": false, "share_drifted": 0.1}')
    try:
        response = client.get("/drift", headers=auth(world.north_token))
        assert response.status_code == 200 and response.json()["drifted"] is False
    finally:
        path.unlink()


def test_health_and_docs_need_no_token_but_the_api_does(client, world) -> None:
    assert client.get("/readyz").status_code == 200
    assert client.get("/livez").status_code == 200
    assert "/rank" in client.get("/docs.json").json()["paths"]
    for call in (
        lambda: client.post("/rank", json={"clinic_id": "north"}),
        lambda: client.post("/rank", json={"clinic_id": "north"}, headers=auth("not-a-token")),
        lambda: client.get("/model"),
        lambda: client.get("/drift", headers={"Authorization": world.north_token}),
    ):
        assert call().status_code == 401


def test_a_clinic_outside_the_scope_is_403_and_an_unknown_one_404(client, world) -> None:
    response = rank(client, world.south_token, clinic_id="north")
    assert response.status_code == 403 and response.json()["field"] == "clinic_id"
    response = client.post(
        "/score",
        json={"clinic_id": "north", "patient_ids": ["P0000001"]},
        headers=auth(world.south_token),
    )
    assert response.status_code == 403
    response = rank(client, world.north_token, clinic_id="west")
    assert response.status_code == 404 and "west" in response.json()["error"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"clinic_id": "north", "limit": 0}, "limit"),
        ({"clinic_id": "north", "limit": 5001}, "limit"),
        ({"clinic_id": "north", "max_reasons": 11}, "max_reasons"),
        ({"clinic_id": "north", "segments": ["sleepy"]}, "segments"),
        ({"clinic_id": "north", "channels": ["fax"]}, "channels"),
        ({"clinic_id": "north", "rank_by": "age"}, "rank_by"),
        (
            {"clinic_id": "north", "min_days_since_visit": 90, "max_days_since_visit": 30},
            "max_days_since_visit",
        ),
        ({"limit": 10}, "clinic_id"),
        ({"clinic_id": "north", "colour": "red"}, "colour"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(client, world, body, field) -> None:
    response = rank(client, world.north_token, **body)
    assert response.status_code == 400
    body = response.json()
    assert body["field"] == field and field in body["error"] and field in body["detail"]


def test_malformed_json_and_wrong_types_are_400_not_500(client, world) -> None:
    headers = {**auth(world.north_token), "Content-Type": "application/json"}
    assert client.post("/rank", content=b"{oops", headers=headers).status_code == 400
    assert (
        client.post(
            "/score", json={"clinic_id": "north", "patient_ids": "P1"}, headers=headers
        ).status_code
        == 400
    )
    assert (
        client.post(
            "/score", json={"clinic_id": "north", "patient_ids": []}, headers=headers
        ).status_code
        == 400
    )


def test_every_channel_probability_is_a_known_channel(client, world) -> None:
    body = rank(client, world.north_token, clinic_id="north", limit=100, explain=False).json()
    assert {c for p in body["patients"] for c in p["channel_probabilities"]} <= set(CHANNELS)


def test_tenants_see_only_their_own_patients_even_when_ids_collide(client, world) -> None:
    snap = world.snapshot
    north, south = snap[snap.clinic_id == "north"], snap[snap.clinic_id == "south"]
    shared = sorted(set(north.patient_id) & set(south.patient_id))
    only_north = sorted(set(north.patient_id) - set(south.patient_id))
    assert shared and only_north  # the simulated clinics reuse ids on purpose
    body = {"clinic_id": "south", "patient_ids": [*shared[:30], *only_north[:5]], "explain": False}
    answer = client.post("/score", json=body, headers=auth(world.south_token)).json()
    assert set(answer["not_found"]) == set(only_north[:5])
    south_p = south.set_index("patient_id")["return_probability"]
    for patient in answer["patients"]:
        assert patient["return_probability"] == pytest.approx(south_p[patient["patient_id"]])
    listed = rank(client, world.south_token, clinic_id="south", limit=5000, explain=False).json()
    assert {p["patient_id"] for p in listed["patients"]} <= set(south.patient_id)
    assert listed["total_eligible"] <= len(south)
