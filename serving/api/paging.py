"""Cursors of ``POST /rank``: where the previous page ended, bound to a snapshot and filters.

A cursor is URL-safe base64 of a small JSON object: the scored snapshot it belongs to (a
digest of the model version and the snapshot file's identity), a digest of the request's
list-defining fields (clinic, filters, channels, ``rank_by``, ``on``), and the position in
the clinic's ordering after which the next page starts. The ordering is fixed per snapshot,
so a whole list fetched page by page lists every eligible patient once, in order; a cursor of
another snapshot is refused (409) rather than silently skipping or repeating patients.

Cursors carry no patient id and grant nothing: the token and clinic are checked on every page.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from pydantic import BaseModel

from serving.api.errors import ApiError
from serving.api.state import Served

CURSOR_VERSION = 1
# Fields that may change between pages of one list: everything else defines the list.
PAGE_ONLY_FIELDS = frozenset({"cursor", "limit", "explain", "max_reasons"})


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def snapshot_id(served: Served) -> str:
    """Identity of the served model and snapshot pair (changes with either)."""
    return _digest([served.version, *served.snapshot_key])


def list_id(request: BaseModel) -> str:
    """Digest of the fields that define a list (not those of one page)."""
    fields = request.model_dump(mode="json", exclude=set(PAGE_ONLY_FIELDS))
    return _digest(fields)


def encode_cursor(served: Served, request: BaseModel, after: int) -> str:
    """The ``next_cursor`` of a page whose last row sits at ``after`` in the ordering."""
    payload = {"v": CURSOR_VERSION, "s": snapshot_id(served), "l": list_id(request), "a": after}
    raw = json.dumps(payload, separators=(",", ":")).encode("ascii")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(served: Served, request: BaseModel, cursor: str | None) -> int:
    """The position to continue after (-1: first page).

    Raises:
        ApiError: 400 for a cursor that is not one of ours or belongs to other filters,
            409 for a cursor of another scored snapshot.
    """
    if cursor is None:
        return -1
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        after = payload["a"]
        valid = payload.get("v") == CURSOR_VERSION and type(after) is int and after >= 0
    except (ValueError, binascii.Error, KeyError, TypeError, UnicodeError):
        valid = False
    if not valid:
        raise ApiError(400, "cursor is not a next_cursor of this service", "cursor")
    if payload.get("s") != snapshot_id(served):
        raise ApiError(
            409,
            "cursor belongs to an older scored snapshot: the list changed; start again "
            "without a cursor",
            "cursor",
        )
    if payload.get("l") != list_id(request):
        raise ApiError(
            400, "cursor belongs to a list with other filters: send the same filters", "cursor"
        )
    return after
