"""The door of every API route: JSON only, bounded bodies, well-formed JSON, clean hang-ups.

:class:`RequestGuardMiddleware` sits in front of every route that takes a body (any POST,
PUT or PATCH outside the open health and docs paths, so a new route is covered without
opting in) and answers the client's mistakes itself, before BentoML parses anything:

* a Content-Type other than ``application/json`` (charset utf-8 or none): 415 — multipart
  and form bodies never reach a parser that could fail with a 500 or echo them back;
* a body larger than ``serving.max_body_bytes`` (per-path overrides in
  ``serving.body_limits``; ``/outcomes`` takes larger batches): 413, from the Content-Length
  header when there is one, else as soon as the streamed body passes the limit;
* a body that is not UTF-8 JSON, holds NaN or Infinity, numbers beyond float range, integers
  too long to read, strings with NUL characters or lone surrogates, or nesting deeper than
  :data:`MAX_DEPTH`: 400 with :class:`~serving.api.models.ErrorBody` (never the input);
* request headers over :data:`MAX_HEADER_BYTES` in all (on any path): 431;
* a client that hangs up before its body is complete (broken framing, a Content-Length
  larger than the body): nothing is answered and nothing is logged as an error; the
  route never sees a half body, so no ``ClientDisconnect`` trace reaches the log.

The body is read once here and replayed to the route unchanged.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from features.config import Settings
from serving.api.auth import is_open_path

Message = MutableMapping[str, Any]
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
JSON_TYPE = "application/json"
MAX_DEPTH = 32
MAX_HEADER_BYTES = 16_384


class BodyProblem(ValueError):
    """A body that is not acceptable JSON; the message names the rule, never the input."""


def _reject_constant(name: str) -> float:
    raise BodyProblem(f"JSON numbers must be finite ({name} is not JSON)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BodyProblem("a number is outside the range of a double")
    return value


# A NUL or a surrogate can only reach a parsed string through a \u escape (raw NULs are not
# JSON, and the UTF-8 decoder refuses encoded surrogates): without one, no string needs a look.
_SUSPECT_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


def _check_depth(value: Any) -> None:
    """The nesting rule alone, visiting containers only (the body's strings are clean)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if type(item) is dict else item
        if depth > MAX_DEPTH:
            raise BodyProblem(f"the body is nested deeper than {MAX_DEPTH} levels")
        stack.extend((child, depth + 1) for child in children
                     if type(child) is dict or type(child) is list)


def _check_tree(value: Any) -> None:
    """Depth, string and number rules over a parsed body (iterative: no recursion limit)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = [*item.keys(), *item.values()]
        elif isinstance(item, list):
            children = item
        else:
            if isinstance(item, str):
                _check_string(item)
            elif isinstance(item, float) and not math.isfinite(item):
                raise BodyProblem("a number is outside the range of a double")
            continue
        if depth > MAX_DEPTH:
            raise BodyProblem(f"the body is nested deeper than {MAX_DEPTH} levels")
        stack.extend((child, depth + 1) for child in children)


def _check_string(text: str) -> None:
    if "\x00" in text:
        raise BodyProblem("strings must not contain NUL characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BodyProblem("strings must not contain lone surrogates") from None


def check_json_body(body: bytes) -> None:
    """Refuse a body that is not UTF-8 JSON the routes can take.

    Raises:
        BodyProblem: naming the rule broken.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BodyProblem("the body is not UTF-8") from None
    try:
        parsed = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except BodyProblem:
        raise
    except RecursionError:
        raise BodyProblem(f"the body is nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:  # JSONDecodeError, or an integer too long to read
        where = f" at line {exc.lineno} column {exc.colno}" if hasattr(exc, "lineno") else ""
        raise BodyProblem(f"the body is not valid JSON{where}") from None
    if "\\u" in text and _SUSPECT_ESCAPE.search(text):
        _check_tree(parsed)
    elif type(parsed) is dict or type(parsed) is list:
        _check_depth(parsed)


def _header(scope: Message, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _header_bytes(scope: Message) -> int:
    return sum(len(k) + len(v) + 4 for k, v in scope.get("headers", []))


def media_type_problem(content_type: str | None) -> str | None:
    """Why a Content-Type is refused (None: it is JSON in UTF-8)."""
    if content_type is None:
        return "send the body as JSON with Content-Type: application/json"
    kind, *params = (part.strip().lower() for part in content_type.split(";"))
    if kind != JSON_TYPE:
        return "only application/json bodies are accepted"
    for param in params:
        name, _, value = param.partition("=")
        if name.strip() == "charset" and value.strip().strip('"') not in ("utf-8", "utf8"):
            return "JSON bodies must be UTF-8"
    return None


async def send_error(send: Callable, status: int, message: str, field: str | None = None) -> None:
    """Answer ``status`` with an ErrorBody and close the exchange."""
    body = json.dumps({"error": message, "field": field, "detail": None}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 413:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RequestGuardMiddleware:
    """ASGI middleware enforcing the body rules of the module doc on every API route."""

    def __init__(self, app: Callable[..., Awaitable[None]], settings: Settings | None = None):
        self.app = app
        serving = (settings or Settings.from_environment()).serving
        self.default_limit = serving.max_body_bytes
        self.limits = dict(serving.body_limits)

    def limit_for(self, path: str) -> int:
        """Largest body accepted on ``path``."""
        return self.limits.get(path, self.default_limit)

    async def __call__(self, scope: Message, receive: Callable, send: Callable) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and _header_bytes(scope) > MAX_HEADER_BYTES:
            message = f"request headers must not exceed {MAX_HEADER_BYTES} bytes in all"
            await send_error(send, 431, message, "headers")
            return
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS or is_open_path(path):
            await self.app(scope, receive, send)
            return
        problem = media_type_problem(_header(scope, b"content-type"))
        if problem:
            await send_error(send, 415, problem, "Content-Type")
            return
        limit = self.limit_for(path)
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.strip().isdigit() or int(declared) > limit):
            status = 413 if declared.strip().isdigit() else 400
            await send_error(send, status, f"the body must not exceed {limit} bytes", "body")
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client hung up mid-body: nobody is left to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await send_error(send, 413, f"the body must not exceed {limit} bytes", "body")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        try:
            check_json_body(body)
        except BodyProblem as exc:
            await send_error(send, 400, f"invalid request: {exc}", "body")
            return
        await self.app(scope, _replay(body, receive), send)


def _replay(body: bytes, receive: Callable) -> Callable:
    """A ``receive`` that hands over the buffered body, then defers to the real one."""
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
