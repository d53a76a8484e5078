"""The request models: defaults, bounds, and input values kept out of error messages."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from features.vocabulary import CHANNELS, SEGMENTS
from serving.api.errors import flatten_validation_error
from serving.api.models import Channel, RankRequest, ScoreRequest, Segment


def test_rank_defaults_match_the_issue() -> None:
    request = RankRequest(clinic_id="north")
    # rank_by absent: the bundle's default ordering decides (issue 12)
    assert (request.limit, request.rank_by, request.explain, request.max_reasons) == (
        100,
        None,
        True,
        3,
    )


def test_literals_follow_the_configured_channels_and_segments() -> None:
    assert set(Channel.__args__) == set(CHANNELS) and set(Segment.__args__) == set(SEGMENTS)


def test_every_field_of_every_api_model_is_described() -> None:
    from serving.api import models as api_models

    models = [
        m
        for m in vars(api_models).values()
        if isinstance(m, type) and m.__module__ == api_models.__name__
    ]
    undocumented = [
        f"{m.__name__}.{n}"
        for m in models
        if hasattr(m, "model_fields")
        for n, f in m.model_fields.items()
        if not f.description
    ]
    assert undocumented == []


def test_patient_ids_in_a_bad_request_never_appear_in_the_error() -> None:
    with pytest.raises(ValidationError) as caught:
        ScoreRequest(clinic_id="north", patient_ids=["SECRET-42", 7])
    assert "SECRET-42" not in str(caught.value)


def test_validation_bodies_are_flattened_to_one_named_field() -> None:
    body = {
        "error": "2 validation errors",
        "detail": [
            {"loc": ["RankRequestIODescriptor", "limit"], "msg": "too big"},
            {"loc": ["segments", 0], "msg": "bad"},
        ],
    }
    assert flatten_validation_error(body) == {
        "error": "invalid request: limit: too big",
        "field": "limit",
        "detail": "limit: too big; segments.0: bad",
    }
