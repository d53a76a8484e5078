"""Client errors in one documented shape, and quiet logs for them.

BentoML answers a body that fails validation with 400 and ``{"error", "detail": [pydantic
errors]}``, while its own OpenAPI document declares ``detail`` a string: clients validating
against the document would reject the answer. :class:`ValidationErrorMiddleware` rewrites
those bodies to ``{"error", "field", "detail"}`` (``field``: the top-level field first at fault,
``detail``: every problem as ``field: message``), matching the document and
:class:`serving.api.models.ErrorBody`.

BentoML also logs each such 400 with a full traceback at ERROR level; a bad request is the
client's problem, and the access log already records it, so :class:`DropValidationTracebacks`
drops those records. Input values never appear in either: the request models hide them.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from serving.api.auth import is_open_path

Message = MutableMapping[str, Any]


class ApiError(Exception):
    """An answer other than 200: status, message and the request field at fault."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


def _location(error: dict[str, Any]) -> str:
    parts = [str(p) for p in error.get("loc", []) if not str(p).endswith("IODescriptor")]
    return ".".join(parts) or "body"


def flatten_validation_error(body: dict[str, Any]) -> dict[str, Any]:
    """BentoML's validation body -> ``{"error", "field", "detail"}`` with string detail."""
    errors = body.get("detail")
    if not isinstance(errors, list) or not errors:
        return body
    problems = [f"{_location(e)}: {e.get('msg', 'invalid')}" for e in errors if isinstance(e, dict)]
    field = _location(errors[0]).split(".")[0] if isinstance(errors[0], dict) else None
    return {
        "error": f"invalid request: {problems[0]}" if problems else "invalid request",
        "field": None if field == "body" else field,
        "detail": "; ".join(problems),
    }


class ValidationErrorMiddleware:
    """ASGI middleware rewriting 400 validation bodies of every API route (see module doc)."""

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Message, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or is_open_path(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start" and message["status"] == 400:
                start = message
                return
            if start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                await send_rewritten(start, b"".join(chunks))

        async def send_rewritten(head: Message, body: bytes) -> None:
            with contextlib.suppress(ValueError, AttributeError):  # not JSON: pass through
                body = json.dumps(flatten_validation_error(json.loads(body))).encode()
            headers = [(k, v) for k, v in head.get("headers", []) if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**head, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, capture)


class DropValidationTracebacks(logging.Filter):
    """Drop log records whose exception is a pydantic validation error (a client's 400)."""

    def filter(self, record: logging.LogRecord) -> bool:
        from pydantic import ValidationError

        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, ValidationError)


def quiet_validation_logs() -> None:
    """Install :class:`DropValidationTracebacks` on BentoML's HTTP app logger (idempotent)."""
    logger = logging.getLogger("bentoml._internal.server.http_app")
    if not any(isinstance(f, DropValidationTracebacks) for f in logger.filters):
        logger.addFilter(DropValidationTracebacks())
