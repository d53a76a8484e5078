"""Tokens file and bearer middleware: digests only, scopes, open health paths."""

from __future__ import annotations

import json
import stat

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from serving.api.auth import (
    BearerAuthMiddleware,
    add_token,
    clinics_in_scope,
    read_tokens,
    token_digest,
)


def test_the_tokens_file_keeps_only_digests_and_scopes(tmp_path) -> None:
    path = tmp_path / "tokens.json"
    token = add_token(path, ["north", "south", "north"])
    text = path.read_text()
    assert token not in text
    assert read_tokens(path) == {token_digest(token): frozenset({"north", "south"})}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    second = add_token(path, ["west"])
    assert len(json.loads(path.read_text())["tokens"]) == 2 and second != token


def test_a_corrupt_tokens_file_is_refused_not_extended(tmp_path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text("{not json")
    with pytest.raises(ValueError):
        add_token(path, ["north"])
    with pytest.raises(ValueError):
        add_token(tmp_path / "other.json", [" "])


def _app(tokens_file) -> TestClient:
    return TestClient(BearerAuthMiddleware(_routes(), tokens_file=str(tokens_file)))


def _routes() -> Starlette:
    async def whoami(request: Request) -> JSONResponse:
        return JSONResponse(sorted(clinics_in_scope(request.scope)))

    async def health(request: Request) -> JSONResponse:
        return JSONResponse("ok")

    return Starlette(routes=[Route("/rank", whoami, methods=["POST"]), Route("/readyz", health)])


def test_requests_need_a_known_bearer_token_and_see_its_scope(tmp_path) -> None:
    path = tmp_path / "tokens.json"
    token = add_token(path, ["north"])
    client = _app(path)
    assert client.post("/rank").status_code == 401
    assert client.post("/rank", headers={"Authorization": "Basic abc"}).status_code == 401
    wrong = client.post("/rank", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"].startswith("Bearer")
    ok = client.post("/rank", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200 and ok.json() == ["north"]
    assert client.get("/readyz").status_code == 200


def test_a_token_added_while_running_is_accepted_without_restart(tmp_path) -> None:
    path = tmp_path / "tokens.json"
    add_token(path, ["north"])
    client = _app(path)
    later = add_token(path, ["south"])
    assert client.post("/rank", headers={"Authorization": f"Bearer {later}"}).json() == ["south"]


def test_without_a_tokens_file_every_call_is_refused(tmp_path) -> None:
    client = _app(tmp_path / "missing.json")
    assert client.post("/rank", headers={"Authorization": "Bearer x"}).status_code == 401


def test_token_add_prints_only_the_token_and_stores_its_digest(tmp_path) -> None:
    from typer.testing import CliRunner

    from serving.cli.app import app

    path = tmp_path / "tokens.json"
    result = CliRunner().invoke(app, ["token", "add", "--clinic", "north", "--tokens", str(path)])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert result.stdout == token + "\n" and len(token) >= 40
    assert read_tokens(path) == {token_digest(token): frozenset({"north"})}


def test_a_tokens_file_named_only_in_the_reactivate_config_file_is_honoured(
    tmp_path, monkeypatch
) -> None:
    tokens = tmp_path / "elsewhere" / "tokens.json"
    token = add_token(tokens, ["north"])
    config = tmp_path / "settings.toml"
    config.write_text(f'[serving]\ntokens_file = "{tokens}"\n')
    monkeypatch.delenv("REACTIVATE_TOKENS_FILE", raising=False)
    monkeypatch.delenv("REACTIVATE_SERVING__TOKENS_FILE", raising=False)

    monkeypatch.delenv("REACTIVATE_CONFIG", raising=False)
    without = TestClient(BearerAuthMiddleware(_routes()))
    assert without.post("/rank", headers={"Authorization": f"Bearer {token}"}).status_code == 401

    monkeypatch.setenv("REACTIVATE_CONFIG", str(config))
    client = TestClient(BearerAuthMiddleware(_routes()))
    ok = client.post("/rank", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200 and ok.json() == ["north"]
