"""Bearer-token authentication and clinic scopes.

The tokens file is JSON, ``{"tokens": [{"digest": ..., "clinics": [...], "created_at": ...}]}``,
holding only each token's SHA-256 hex digest: a leaked file does not leak usable tokens.
It is found from ``--tokens``, else the environment variable ``REACTIVATE_TOKENS_FILE``, else
``serving.tokens_file`` of the settings (``Settings.from_environment``, so a settings file named
by ``REACTIVATE_CONFIG`` counts, as it does for the service). The middleware re-reads it when it changes, so
``reactivate token add`` takes effect without a restart.

The middleware answers 401 itself (before any routing) and hands the token's clinic scope to
the endpoints in the ASGI scope under ``SCOPE_KEY``; endpoints answer 403 for clinics outside
it. Health and documentation paths stay open. Tokens are never logged.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import secrets
import threading
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from pathlib import Path
from typing import Any

from features.atomic_files import write_text_atomically
from features.config import Settings

logger = logging.getLogger(__name__)

TOKENS_ENV = "REACTIVATE_TOKENS_FILE"
SCOPE_KEY = "reactivate.clinics"
OPEN_PATHS = frozenset(
    {"/", "/healthz", "/livez", "/readyz", "/metrics", "/docs.json", "/schema.json"}
)
OPEN_PREFIXES = ("/static_content/", "/assets/")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def token_digest(token: str) -> str:
    """SHA-256 hex digest of a token: the only form a token is stored in."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def tokens_path(
    settings: Settings | None = None, explicit: Path | str | None = None
) -> Path | None:
    """Where the tokens file is: the explicit path, the environment, then the settings."""
    if explicit:
        return Path(explicit)
    if os.environ.get(TOKENS_ENV):
        return Path(os.environ[TOKENS_ENV])
    if settings is not None and settings.serving.tokens_file is not None:
        return Path(settings.serving.tokens_file)
    return None


def read_tokens(path: Path) -> dict[str, frozenset[str]]:
    """Parse a tokens file into ``{digest: clinic ids}``.

    Raises:
        ValueError: when the file is not a valid tokens file.
    """
    try:
        data = json.loads(Path(path).read_text())
        entries = data["tokens"]
        table = {str(e["digest"]): frozenset(str(c) for c in e["clinics"]) for e in entries}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"unreadable tokens file {path}: {type(exc).__name__}") from exc
    if any(len(d) != 64 for d in table):
        raise ValueError(f"tokens file {path} holds a digest that is not SHA-256 hex")
    return table


def add_token(path: Path, clinics: Iterable[str], label: str | None = None) -> str:
    """Create a token for ``clinics``, record its digest in ``path`` and return the token.

    The file is rewritten atomically (temporary file, then rename) with owner-only
    permissions; the token itself is never written anywhere.
    """
    clinic_ids = sorted({str(c).strip() for c in clinics if str(c).strip()})
    if not clinic_ids:
        raise ValueError("a token needs at least one clinic id")
    path = Path(path)
    entries: list[dict[str, Any]] = []
    if path.exists():
        read_tokens(path)  # refuse to extend a corrupt file
        entries = json.loads(path.read_text())["tokens"]
    token = secrets.token_urlsafe(32)
    entries.append(
        {
            "digest": token_digest(token),
            "clinics": clinic_ids,
            "label": label,
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
    )
    write_text_atomically(path, json.dumps({"tokens": entries}, indent=2), mode=0o600)
    return token


class TokenStore:
    """The tokens file, re-read whenever its modification time or size changes."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._stamp: tuple[float, int] | None = None
        self._table: dict[str, frozenset[str]] = {}
        self._lock = threading.Lock()

    def _refresh(self) -> None:
        if self.path is None:
            return
        try:
            stat = self.path.stat()
        except OSError:
            self._table, self._stamp = {}, None
            return
        stamp = (stat.st_mtime, stat.st_size)
        if stamp == self._stamp:
            return
        with self._lock:
            try:
                self._table = read_tokens(self.path)
            except ValueError as exc:
                logger.error("tokens file refused, no token is accepted: %s", exc)
                self._table = {}
            self._stamp = stamp

    def clinics_for(self, token: str) -> frozenset[str] | None:
        """Clinic ids the token may access, or None for an unknown token."""
        self._refresh()
        return self._table.get(token_digest(token))


def bearer_token(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header, if any."""
    for name, value in headers:
        if name.lower() == b"authorization":
            scheme, _, token = value.decode("latin-1").strip().partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    return None


def is_open_path(path: str) -> bool:
    """Health, metrics and documentation paths need no token."""
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


class BearerAuthMiddleware:
    """ASGI middleware: 401 without a known bearer token, clinic scope for the endpoints."""

    def __init__(self, app: Callable[..., Awaitable[None]], tokens_file: str | None = None) -> None:
        self.app = app
        path = tokens_path(Settings.from_environment(), tokens_file)
        if path is None:
            logger.warning("no tokens file configured: every API call will be refused")
        self.store = TokenStore(path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_open_path(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        token = bearer_token(scope.get("headers", []))
        clinics = self.store.clinics_for(token) if token else None
        if clinics is None:
            await _unauthorized(send, "missing bearer token" if token is None else "unknown token")
            return
        scope[SCOPE_KEY] = clinics
        await self.app(scope, receive, send)


async def _unauthorized(send: Send, message: str) -> None:
    body = json.dumps({"error": f"Unauthorized: {message}.", "field": "Authorization"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"www-authenticate", b'Bearer realm="reactivate"'),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def clinics_in_scope(scope: MutableMapping[str, Any]) -> frozenset[str]:
    """The clinic scope the middleware attached to a request (empty when absent)."""
    return scope.get(SCOPE_KEY, frozenset())
