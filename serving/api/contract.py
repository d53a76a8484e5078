"""The API contract: every route, its models and every status it can answer, as OpenAPI 3.1.

BentoML's own document has no version, boilerplate title and description, no security
scheme, undeclared 401/403, optional request bodies and models listed twice under different
names; clients generated from it do not install. The service serves this document instead
(``/docs.json``, see :mod:`serving.api.docs`), built from :data:`ROUTES` and the pydantic
models, so there is one schema per model and names clients can rely on.

How a new route opts in (``tests/serving/api/test_contract.py`` fails until it does):

1. its request body (or query) model subclasses :class:`serving.api.models.StrictRequest`
   (strict types, no unknown fields, no input in errors);
2. it returns errors as :class:`serving.api.models.ErrorBody` (raise
   :class:`serving.api.errors.ApiError` in the handler);
3. it gets one :class:`Route` entry in :data:`ROUTES`: method, path, a stable
   ``operation_id``, the models, and any status beyond the ones :func:`declared_errors`
   derives (400/413/415 for a body, 431 always, 401 when protected, 403/404 when it names a clinic,
   429 unless ``admitted=False``, 503 while nothing is loaded).

The body rules (415, 413, malformed JSON) and the 400 error shape apply to every route
without opting in (:mod:`serving.api.guard`, :mod:`serving.api.errors`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from serving.api.campaign_models import (
    CampaignRequest,
    CampaignResponse,
    CampaignResults,
    DueQuery,
    DueResponse,
    OutcomesRequest,
    OutcomesResponse,
    ResultsQuery,
)
from serving.api.models import (
    ErrorBody,
    ModelInfo,
    RankRequest,
    RankResponse,
    ScoreRequest,
    ScoreResponse,
)

TITLE = "reactivate"
DESCRIPTION = (
    "Win back lapsed clinic patients: who is likely to return, how to reach them, and why. "
    "Ranked outreach lists with plain-language reasons from the latest scored snapshot, "
    "campaigns measured against a randomised holdout, and the outcomes that feed them back.\n\n"
    "Every route but health and docs needs `Authorization: Bearer <token>`; a token is "
    "scoped to clinics (`reactivate token add`). Bodies are JSON (`application/json`, "
    "UTF-8); errors are `ErrorBody` objects naming the field at fault, never echoing input."
)
SCHEMES = {"bearer": {"type": "http", "scheme": "bearer", "description": "A clinic token."}}
SCHEMA_REF = "#/components/schemas/{model}"
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying.",
                               "schema": {"type": "integer", "minimum": 1}}}


@dataclass(frozen=True)
class Route:
    """One operation of the contract.

    Attributes:
        method: HTTP method, upper case.
        path: route path; ``{name}`` segments are string path parameters.
        operation_id: stable name generated clients use for the call.
        summary: one line for people.
        response: model of the 200 body (None: a free-form JSON object).
        request: model of the JSON body (required when set).
        query: model whose fields are the query parameters.
        protected: needs a bearer token (401 without one).
        needs_model: answers 503 until a model and snapshot are loaded.
        errors: statuses beyond the derived ones, with what they mean.
        tag: group in the docs page.
        admitted: counts toward ``serving.max_concurrency`` and answers 429 past it
            (:mod:`serving.api.admission`); False only for cheap reads an operator needs
            while the service is busy.
    """

    method: str
    path: str
    operation_id: str
    summary: str
    response: type[BaseModel] | None
    request: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    protected: bool = True
    needs_model: bool = True
    errors: Mapping[int, str] = field(default_factory=dict)
    tag: str = "lists"
    admitted: bool = True


ROUTES: tuple[Route, ...] = (
    Route("POST", "/rank", "rank", "A clinic's best eligible patients, one page at a time",
          RankResponse, RankRequest,
          errors={409: "The cursor belongs to an older scored snapshot; start again"}),
    Route("POST", "/score", "score", "Named patients of a clinic, with the policy's verdict",
          ScoreResponse, ScoreRequest),
    Route("POST", "/campaigns", "start_campaign",
          "Start a campaign: the /rank list split into treatment and holdout",
          CampaignResponse, CampaignRequest, tag="campaigns",
          errors={409: "The clinic already has a campaign with that id"}),
    Route("POST", "/outcomes", "post_outcomes",
          "Store outcome events (idempotent by event_id); refused ones are listed",
          OutcomesResponse, OutcomesRequest, tag="campaigns"),
    Route("GET", "/campaigns/{campaign_id}/due", "due_attempts",
          "The attempts of a sequence campaign to send on a day, re-planned from outcomes",
          DueResponse, query=DueQuery, tag="campaigns",
          errors={404: "No campaign with that id for the clinic",
                  409: "The campaign is not a sequence campaign"}),
    Route("GET", "/campaigns/{campaign_id}/results", "campaign_results",
          "What a stored campaign did, against its randomised holdout", CampaignResults,
          query=ResultsQuery, tag="campaigns",
          errors={404: "No campaign with that id for the clinic"}),
    Route("GET", "/model", "model", "The served model, its metrics and the reload status",
          ModelInfo, tag="service", admitted=False),
    Route("GET", "/drift", "drift", "The latest drift summary of the monitoring job", None,
          needs_model=False, errors={404: "No drift summary yet"}, tag="service",
          admitted=False),
)
# Paths the admission bound neither counts nor refuses (serving.api.admission).
UNADMITTED_PATHS = frozenset(r.path for r in ROUTES if not r.admitted)

DERIVED = {
    400: "The request breaks a rule; `field` names it (input values are never echoed)",
    401: "Missing or unknown bearer token",
    403: "The token may not access that clinic",
    404: "The clinic has no patients in the served snapshot",
    413: "The body is larger than the service accepts",
    415: "The body is not application/json",
    429: "The service is at capacity (serving.max_concurrency requests in flight); "
         "retry after the Retry-After header's seconds",
    431: "The request headers are larger than the service accepts",
    503: "No model and scored snapshot loaded yet",
}


def package_version() -> str:
    """The installed package's version (a valid PEP 440 one even from a bare checkout)."""
    try:
        return metadata.version("reactivate")
    except metadata.PackageNotFoundError:
        return "0.0.0+unknown"


def _names_clinic(route: Route) -> bool:
    models = [m for m in (route.request, route.query) if m is not None]
    return any("clinic_id" in m.model_fields for m in models)


def path_parameters(route: Route) -> list[str]:
    """Names of the ``{name}`` segments of the route's path."""
    return re.findall(r"{(\w+)}", route.path)


def declared_errors(route: Route) -> dict[int, str]:
    """Every non-200 status the route can answer, derived from its shape plus its extras."""
    codes: set[int] = {431}
    if route.request is not None or route.query is not None or path_parameters(route):
        codes.add(400)
    if route.request is not None:
        codes |= {413, 415}
    if route.protected:
        codes.add(401)
    if _names_clinic(route):
        codes |= {403, 404}
    if route.admitted:
        codes.add(429)
    if route.needs_model:
        codes.add(503)
    found = {code: DERIVED[code] for code in codes}
    found.update(route.errors)
    return dict(sorted(found.items()))


def _schemas() -> dict[str, Any]:
    """One JSON schema per model, under the model's own name."""
    inputs = {m for r in ROUTES for m in (r.request, r.query) if m is not None}
    outputs = {r.response for r in ROUTES if r.response is not None} | {ErrorBody}
    pairs = [(m, "validation") for m in sorted(inputs, key=lambda m: m.__name__)]
    pairs += [(m, "serialization") for m in sorted(outputs, key=lambda m: m.__name__)]
    _, top = models_json_schema(pairs, ref_template=SCHEMA_REF)
    return dict(sorted(top.get("$defs", {}).items()))


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": SCHEMA_REF.format(model=model.__name__)}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _parameters(route: Route, schemas: dict[str, Any]) -> list[dict[str, Any]]:
    found = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in path_parameters(route)
    ]
    if route.query is not None:
        query = schemas[route.query.__name__]
        required = set(query.get("required", []))
        for name, schema in query["properties"].items():
            parameter = {"name": name, "in": "query", "required": name in required}
            found.append({**parameter, "schema": schema})
    return found


def operation(route: Route, schemas: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI operation object of one route."""
    ok = _ref(route.response) if route.response else {"type": "object", "additionalProperties": True}
    responses: dict[str, Any] = {"200": {"description": "Success", "content": _json(ok)}}
    for code, text in declared_errors(route).items():
        responses[str(code)] = {"description": text, "content": _json(_ref(ErrorBody))}
        if code == 429:
            responses[str(code)]["headers"] = RETRY_AFTER
    op: dict[str, Any] = {
        "operationId": route.operation_id,
        "summary": route.summary,
        "tags": [route.tag],
        "responses": responses,
    }
    if parameters := _parameters(route, schemas):
        op["parameters"] = parameters
    if route.request is not None:
        op["requestBody"] = {"required": True, "content": _json(_ref(route.request))}
    op["security"] = [{"bearer": []}] if route.protected else []
    return op


@cache
def openapi_document() -> dict[str, Any]:
    """The whole document (built once per process; the routes are fixed at import)."""
    schemas = _schemas()
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = operation(route, schemas)
    return {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": package_version(), "description": DESCRIPTION,
                 "license": {"name": "Apache-2.0"}},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": SCHEMES},
    }
