"""Bounded admission: at most ``serving.max_concurrency`` data requests in flight, 429 past it.

Why a bound: the service is one process (the snapshot is held in memory once) and the work
of a data request is mostly Python holding the GIL, so requests in flight share about one
core and each one added makes all of them slower (about 7 pages of 2,000-5,000 patients a
second in all on the 2-core machine). Unbounded, 20 clients waited 3-5 s each, and every
queued page kept tens of thousands of objects alive for the garbage collector to walk
while ``/readyz`` waited too. Past the bound the service answers at once: 429 with
:class:`~serving.api.models.ErrorBody` and ``Retry-After`` (``serving.retry_after_seconds``),
so a client learns to come back instead of timing out, and the admitted requests keep a
bounded latency (measured in ``bench/health_bench.py``, documented in docs/serving.md).

BentoML's own ``traffic.max_concurrency`` answers 429 too, but with a body outside the
contract (``{"error": "Too many requests"}``), no ``Retry-After``, and it counts ``/model``,
the docs and even requests about to fail authentication; this middleware sits after the
bearer check, so a request without a valid token is a 401 whatever the load.

Never counted nor refused: health, docs and metrics paths (:func:`serving.api.auth.is_open_path`)
and the cheap read-only routes the contract marks ``admitted=False`` (``/model``, ``/drift``),
which an operator needs most while the service is busy. The count lives on the event loop
(one per worker process), so it needs no lock; a slot is released when the route's answer
is complete or the client is gone.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from features.config import Settings
from serving.api.auth import is_open_path
from serving.api.contract import UNADMITTED_PATHS

Message = MutableMapping[str, Any]


class AdmissionMiddleware:
    """ASGI middleware enforcing the in-flight bound of the module doc."""

    def __init__(self, app: Callable[..., Awaitable[None]], settings: Settings | None = None):
        self.app = app
        serving = (settings or Settings.from_environment()).serving
        self.limit = serving.max_concurrency
        self.retry_after = serving.retry_after_seconds
        self.in_flight = 0

    def counted(self, scope: Message) -> bool:
        """Whether the request takes a slot (every data route but the unadmitted ones)."""
        path = scope.get("path", "")
        return scope["type"] == "http" and not is_open_path(path) and path not in UNADMITTED_PATHS

    async def __call__(self, scope: Message, receive: Callable, send: Callable) -> None:
        if not self.counted(scope):
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            await self._refuse(send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1

    async def _refuse(self, send: Callable) -> None:
        message = (
            f"the service is at capacity ({self.limit} requests in flight); "
            f"retry after {self.retry_after} s"
        )
        body = json.dumps({"error": message, "field": None, "detail": None}).encode()
        await send({
            "type": "http.response.start",
            "status": 429,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(self.retry_after).encode()),
            ],
        })
        await send({"type": "http.response.body", "body": body})
