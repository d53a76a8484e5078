"""The OpenAPI document is the service's contract: complete, generator-ready, one per model."""

from __future__ import annotations

from serving.api.contract import ROUTES, declared_errors, package_version
from serving.api.models import StrictRequest
from serving.api.service import Reactivate, http


def served_routes() -> set[tuple[str, str]]:
    """(method, path) of every data route the BentoML service and its FastAPI app answer."""
    found = {("POST", api.route if api.route.startswith("/") else f"/{api.route}")
             for api in Reactivate.apis.values()}
    routes = list(http.routes)
    while routes:
        route = routes.pop()
        if hasattr(route, "original_router"):  # FastAPI keeps included routers as one entry
            routes.extend(route.original_router.routes)
        for method in getattr(route, "methods", None) or ():
            if method != "HEAD":
                found.add((method, route.path))
    return found


def test_every_served_route_is_declared_in_the_contract_and_nothing_else() -> None:
    assert served_routes() == {(r.method, r.path) for r in ROUTES}


def test_every_request_model_is_strict() -> None:
    for route in ROUTES:
        for model in (route.request, route.query):
            assert model is None or issubclass(model, StrictRequest), route.path


def test_the_document_names_the_product_its_version_security_and_every_status(client) -> None:
    document = client.get("/docs.json").json()
    info = document["info"]
    assert info["title"] == "reactivate" and info["version"] == package_version() != "None"
    assert "lapsed" in info["description"]
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    operations = {op["operationId"]: (path, op) for path, ops in document["paths"].items()
                  for op in ops.values()}
    assert {"rank", "score", "model", "drift", "start_campaign", "post_outcomes"} <= set(operations)
    for route in ROUTES:
        path, op = operations[route.operation_id]
        assert path == route.path and op["security"] == [{"bearer": []}]
        declared = {int(code) for code in op["responses"] if code != "200"}
        assert declared == set(declared_errors(route))
        for code in declared:
            schema = op["responses"][str(code)]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorBody"}
        if route.request is not None:
            assert op["requestBody"]["required"] is True
    rank = operations["rank"][1]["responses"]
    assert {"400", "401", "403", "404", "409", "413", "415", "429", "503"} <= set(rank)
    assert rank["429"]["headers"]["Retry-After"]["schema"]["type"] == "integer"
    # Cheap reads an operator needs while the service is busy are never refused.
    assert "429" not in operations["model"][1]["responses"]


def test_one_schema_per_model_under_its_own_name(client) -> None:
    schemas = client.get("/docs.json").json()["components"]["schemas"]
    assert not [name for name in schemas if "-" in name or "__" in name or "Input" in name]
    assert {"RankRequest", "RankResponse", "ScoreRequest", "ErrorBody"} <= set(schemas)


def test_the_docs_page_loads_nothing_from_the_internet(client) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "swagger-ui" in page.text
    assert "http://" not in page.text and "https://" not in page.text
    assert client.get("/static_content/swagger-ui-bundle.js").status_code == 200
