"""A bounded set of hostile requests against the real server: 4xx or a closed connection.

Every case of the API-contract issue, plus NUL bytes, lone surrogates, deep nesting, huge
numbers and a 100 KB header. No answer may be a 5xx or carry a trace, no answer may echo what
was sent, and the server log must hold no 500 and no traceback at the end. The session's
server takes bodies up to 100 KB (``REACTIVATE_SERVING__MAX_BODY_BYTES``).
"""

from __future__ import annotations

import json
import socket

import pytest

from tests.serving.api.conftest import RealServer

SECRET = "patient-zz-4711"  # stands for a patient id a careless client sends


def exchange(server: RealServer, payload: bytes, half_close: bool = False) -> tuple[int | None, bytes]:
    """Send raw bytes, read until the server closes or 5 s pass; status (None: no answer)."""
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        try:
            sock.sendall(payload)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
        except OSError:  # the server closed early (it may answer first)
            pass
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
                if b"\r\n\r\n" in data and _complete(data):
                    break
        except (TimeoutError, OSError):
            pass
    if not data.startswith(b"HTTP/1.1 "):
        return None, data
    return int(data.split(b" ", 2)[1]), data


def _complete(data: bytes) -> bool:
    head, _, body = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":", 1)[1])
    return False


def post(
    server: RealServer,
    body: bytes,
    content_type: str | None = "application/json",
    path: str = "/rank",
    extra: str = "",
    length: int | None = None,
) -> bytes:
    """A raw POST with the south token."""
    headers = [
        f"POST {path} HTTP/1.1",
        f"Host: {server.host}",
        f"Authorization: Bearer {server.world.south_token}",
        "Connection: close",
    ]
    if content_type is not None:
        headers.append(f"Content-Type: {content_type}")
    headers.append(f"Content-Length: {len(body) if length is None else length}")
    return ("\r\n".join(headers) + extra + "\r\n\r\n").encode() + body


def body(**fields: object) -> bytes:
    return json.dumps({"clinic_id": "south", **fields}).encode()


MULTIPART = (
    b'--XyZ\r\nContent-Disposition: form-data; name="clinic_id"\r\n\r\nsouth\r\n'
    b'--XyZ\r\nContent-Disposition: form-data; name="patient_ids"\r\n\r\n' + SECRET.encode()
    + b"\r\n--XyZ--\r\n"
)
CHUNKED_HEAD = (
    "POST /rank HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    "Transfer-Encoding: chunked\r\nAuthorization: Bearer {token}\r\n\r\n"
)

CASES = {
    "multipart": (lambda s: post(s, MULTIPART, "multipart/form-data; boundary=XyZ"), {415}),
    "text plain": (lambda s: post(s, body(), "text/plain"), {415}),
    "xml": (lambda s: post(s, b"<rank><clinic_id>south</clinic_id></rank>", "application/xml"), {415}),
    "png": (lambda s: post(s, b"\x89PNG\r\n\x1a\n" + bytes(64), "image/png"), {415}),
    "form echoing ids": (
        lambda s: post(s, f"clinic_id=south&patient_ids={SECRET}".encode(),
                       "application/x-www-form-urlencoded", path="/score"), {415}),
    "no content type": (lambda s: post(s, body(), None), {415}),
    "latin-1 charset": (lambda s: post(s, body(), "application/json; charset=latin-1"), {415}),
    "length beyond the body": (lambda s: post(s, body(), length=5000), {None, 400}),
    "bad chunk size": (
        lambda s: CHUNKED_HEAD.format(token=s.world.south_token).encode() + b"zz\r\n{}\r\n0\r\n\r\n",
        {None, 400}),
    "oversize by length": (lambda s: post(s, b" " * 300_000 + body()), {413}),
    "oversize chunked": (
        lambda s: CHUNKED_HEAD.format(token=s.world.south_token).encode()
        + b"".join(b"%x\r\n%s\r\n" % (20_000, b" " * 20_000) for _ in range(8)) + b"0\r\n\r\n",
        {413}),
    "limit as a string": (lambda s: post(s, body(limit="10")), {400}),
    "limit as a boolean": (lambda s: post(s, body(limit=True)), {400}),
    "explain as a word": (lambda s: post(s, body(explain="yes")), {400}),
    "patient ids as a string": (
        lambda s: post(s, body(patient_ids=SECRET), path="/score"), {400}),
    "unknown field holding an id": (lambda s: post(s, body(oops=SECRET)), {400}),
    "nul in a string": (lambda s: post(s, body(services=["bo\u0000tox"])), {400}),
    "raw nul byte": (lambda s: post(s, b'{"clinic_id": "so\x00uth"}'), {400}),
    "lone surrogate": (lambda s: post(s, b'{"clinic_id": "south", "services": ["\\ud800"]}'), {400}),
    "invalid utf-8": (lambda s: post(s, b'{"clinic_id": "\xff\xfe"}'), {400}),
    "deep nesting": (lambda s: post(s, b'{"clinic_id": "south", "services": ' + b"[" * 20_000
                                    + b"]" * 20_000 + b"}"), {400}),
    "number beyond a double": (lambda s: post(s, b'{"clinic_id": "south", "limit": 1e999}'), {400}),
    "integer of 5000 digits": (
        lambda s: post(s, b'{"clinic_id": "south", "limit": ' + b"9" * 5000 + b"}"), {400}),
    "huge integer": (lambda s: post(s, body(limit=10**30)), {400}),
    "NaN": (lambda s: post(s, b'{"clinic_id": "south", "max_reasons": NaN}'), {400}),
    "empty body": (lambda s: post(s, b""), {400}),
    "array body": (lambda s: post(s, b'["south"]'), {400}),
    "truncated json": (lambda s: post(s, b'{"clinic_id": "sou'), {400}),
    "service in other case": (lambda s: post(s, body(services=["Botox"])), {400}),
    "empty services": (lambda s: post(s, body(services=[])), {400}),
    "empty segments": (lambda s: post(s, body(segments=[])), {400}),
    "empty channels": (lambda s: post(s, body(channels=[])), {400}),
    "cursor of nothing": (lambda s: post(s, body(cursor="bm90IGEgY3Vyc29y")), {400}),
    "100 KB header": (lambda s: post(s, body(), extra="\r\nX-Padding: " + "a" * 100_000),
                      {431}),
    "bad outcome event": (
        lambda s: post(s, json.dumps({"clinic_id": "south", "events": [{"patient_id": SECRET}]})
                       .encode(), path="/outcomes"), {200}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_hostile_request_gets_a_4xx_or_a_closed_connection_and_no_echo(
    real_server: RealServer, case: str
) -> None:
    build, expected = CASES[case]
    status, answer = exchange(real_server, build(real_server))
    assert status in expected, (status, answer[:300])
    assert b"Traceback" not in answer and SECRET.encode() not in answer
    if status == 400 and b"application/json" in answer:
        error = json.loads(answer.partition(b"\r\n\r\n")[2])
        assert set(error) == {"error", "field", "detail"} and error["error"]


def test_a_client_hanging_up_mid_body_leaves_the_server_answering(real_server: RealServer) -> None:
    status, _ = exchange(real_server, post(real_server, b'{"clinic_id": "so', length=400), True)
    assert status in (None, 400)
    for _ in range(3):  # a body cut by a closed socket, then the server still answers
        with socket.create_connection((real_server.host, real_server.port), timeout=5) as sock:
            sock.sendall(post(real_server, b'{"clinic_id"', length=100))
    status, _ = exchange(real_server, post(real_server, body(limit=1, explain=False)))
    assert status == 200


def test_filter_values_are_named_with_known_ones_and_never_echo_other_fields(
    real_server: RealServer,
) -> None:
    status, answer = exchange(real_server, post(real_server, body(services=["Botox"])))
    error = json.loads(answer.partition(b"\r\n\r\n")[2])
    assert status == 400 and error["field"] == "services"
    assert "'Botox'" in error["error"] and "known ones include" in error["error"]
    status, answer = exchange(real_server, post(real_server, body(limit="10")))
    error = json.loads(answer.partition(b"\r\n\r\n")[2])
    assert error["field"] == "limit" and "'10'" not in answer.decode()


def test_after_the_hostile_requests_the_log_holds_no_500_and_no_traceback(
    real_server: RealServer,
) -> None:
    for case in CASES:  # also when this test runs alone
        build, _ = CASES[case]
        exchange(real_server, build(real_server))
    text = real_server.log_text()
    assert "status=500" not in text and "Traceback" not in text, text[-3000:]
    assert "ClientDisconnect" not in text and "MultiPartException" not in text
    assert SECRET not in text and real_server.world.south_token not in text
