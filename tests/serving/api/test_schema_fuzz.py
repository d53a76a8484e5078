"""A bounded schemathesis run against the service's own OpenAPI document (in process).

Valid and invalid bodies are generated for every API operation; half of the valid ones are
pointed at the token's own clinic so the successful paths are exercised too. Every response
must be a non-5xx whose body matches the documented schema of its status code.
"""

from __future__ import annotations

from collections.abc import Callable

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
)

from tests.serving.conftest import auth

OPERATIONS = [("/rank", "POST"), ("/score", "POST"), ("/model", "GET"), ("/drift", "GET")]
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
EXAMPLES = {"POST": 70, "GET": 5}


def fuzzer(client, operation, mode: GenerationMode, headers: dict, sent: list[int]) -> Callable:
    """A hypothesis test sending generated cases of one operation through ``client``."""
    examples = EXAMPLES[operation.method.upper()]
    checks = CHECKS + ([negative_data_rejection] if mode is GenerationMode.NEGATIVE else [])

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case) -> None:
        if mode is GenerationMode.POSITIVE and isinstance(case.body, dict) and len(sent) % 2:
            case.body["clinic_id"] = "north"
        kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
        response = client.request(
            kwargs["method"],
            kwargs["url"],
            headers=kwargs.get("headers"),
            params=kwargs.get("params"),
            json=kwargs.get("json"),
            content=kwargs.get("data") if "json" not in kwargs else None,
        )
        sent.append(response.status_code)
        case.validate_response(response, checks=checks, headers=headers)

    return run


def test_generated_requests_never_fail_the_server_or_the_schema(client, world) -> None:
    schema = schemathesis.openapi.from_dict(client.get("/docs.json").json())
    sent: list[int] = []
    headers = auth(world.north_token)
    for path, method in OPERATIONS:
        modes = [GenerationMode.POSITIVE] + ([GenerationMode.NEGATIVE] if method == "POST" else [])
        for mode in modes:
            fuzzer(client, schema[path][method], mode, headers, sent)()
    assert len(sent) >= 200
    assert 200 in sent and 400 in sent  # both the happy and the rejecting paths were hit
