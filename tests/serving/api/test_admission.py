"""The admission bound on a real server: past it a 429 as the contract declares it, while
health, ``/model`` and authentication answer as usual and every admitted request completes.

The admitted requests are held in flight by their own clients: each sent its head and part
of its body and waits, so the server cannot finish them until the test sends the rest.
Nothing here is timed; the test only orders events.
"""

from __future__ import annotations

import json
import select
import socket
import time

import httpx

from serving.api.contract import openapi_document
from serving.api.models import ErrorBody
from tests.serving.api.conftest import RealServer
from tests.serving.api.test_hostile_clients import post
from tests.serving.conftest import auth

HELD_BACK = 5  # bytes of each admitted request's body the test keeps until the end


def rank_body(limit: int) -> bytes:
    return json.dumps({"clinic_id": "south", "limit": limit, "explain": False}).encode()


def admitted_and_held(server: RealServer) -> tuple[socket.socket, bytes]:
    """A ``/rank`` request in flight: head and body but its last bytes sent; (socket, rest)."""
    payload = post(server, rank_body(3))
    sock = socket.create_connection((server.host, server.port), timeout=30)
    sock.sendall(payload[:-HELD_BACK])
    return sock, payload[-HELD_BACK:]


def read_answer(sock: socket.socket) -> tuple[int, bytes]:
    """Status and body of the one answer on ``sock`` (the request said Connection: close)."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def first_refusal(server: RealServer) -> httpx.Response:
    """Ask until the server refuses: once it has read the held requests' heads, it must."""
    deadline = time.monotonic() + 60
    while True:
        answer = httpx.post(f"{server.url}/rank", content=rank_body(1), timeout=30, headers={
            **auth(server.world.south_token), "Content-Type": "application/json"})
        if answer.status_code == 429:
            return answer
        assert answer.status_code == 200, answer.text
        assert time.monotonic() < deadline, "the held requests never filled the bound"
        time.sleep(0.05)


def unanswered(sock: socket.socket) -> bool:
    return not select.select([sock], [], [], 0)[0]


def test_past_the_bound_a_declared_429_while_health_and_model_answer(
    real_server: RealServer,
) -> None:
    held = [admitted_and_held(real_server) for _ in range(real_server.max_concurrency)]
    try:
        refused = first_refusal(real_server)
        declared = openapi_document()["paths"]["/rank"]["post"]["responses"]["429"]
        assert "Retry-After" in declared["headers"]
        assert int(refused.headers["Retry-After"]) >= 1
        assert set(refused.json()) == {"error", "field", "detail"}
        assert "capacity" in ErrorBody.model_validate(refused.json()).error

        # The bound counts data requests only: health and /model answer, and a request
        # without a token is still a 401, all while every admitted request is in flight.
        for path in ("/readyz", "/livez"):
            assert httpx.get(f"{real_server.url}{path}", timeout=30).status_code == 200
        model = httpx.get(f"{real_server.url}/model", headers=auth(real_server.world.south_token),
                          timeout=30)
        assert model.status_code == 200
        no_token = httpx.post(f"{real_server.url}/rank", json={"clinic_id": "south"}, timeout=30)
        assert no_token.status_code == 401
        assert all(unanswered(sock) for sock, _ in held)

        for sock, rest in held:  # the admitted requests then complete as usual
            sock.sendall(rest)
            status, body = read_answer(sock)
            assert status == 200 and len(json.loads(body)["patients"]) == 3
    finally:
        for sock, _ in held:
            sock.close()
    again = httpx.post(f"{real_server.url}/rank", content=rank_body(1), timeout=30, headers={
        **auth(real_server.world.south_token), "Content-Type": "application/json"})
    assert again.status_code == 200  # every slot was given back
