"""``/docs.json`` (the contract of :mod:`serving.api.contract`) and an offline docs page.

BentoML's page at ``/`` loads a tag manager from the internet; this one uses only the Swagger
UI files BentoML ships (``/static_content/``), so it works on an air-gapped network and tells
nobody who reads the docs. ``serving.docs_page: false`` turns the page off (404); the
document stays, since generated clients need it.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from features.config import Settings
from serving.api.contract import TITLE, openapi_document

Message = MutableMapping[str, Any]

PAGE = f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="UTF-8" />
  <title>{TITLE} API</title>
  <link rel="stylesheet" type="text/css" href="./static_content/swagger-ui.css" />
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="./static_content/swagger-ui-bundle.js" charset="UTF-8"></script>
  <script>
    window.onload = function () {{
      window.ui = SwaggerUIBundle({{url: "./docs.json", dom_id: "#swagger-ui"}});
    }};
  </script>
</body>
</html>
""".encode()


async def _answer(send: Callable, status: int, body: bytes, media_type: bytes) -> None:
    headers = [(b"content-type", media_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class DocsMiddleware:
    """ASGI middleware answering ``GET /docs.json`` and ``GET /`` (see module doc)."""

    def __init__(self, app: Callable[..., Awaitable[None]], settings: Settings | None = None):
        self.app = app
        self.page = (settings or Settings.from_environment()).serving.docs_page
        self.document = json.dumps(openapi_document()).encode()

    async def __call__(self, scope: Message, receive: Callable, send: Callable) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            path = scope.get("path")
            if path == "/docs.json":
                await _answer(send, 200, self.document, b"application/json")
                return
            if path == "/":
                if self.page:
                    await _answer(send, 200, PAGE, b"text/html; charset=utf-8")
                else:
                    await _answer(send, 404, b'{"error": "docs page is off"}', b"application/json")
                return
        await self.app(scope, receive, send)
