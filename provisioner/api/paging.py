"""Cursor pagination for `GET /v1/tenants`: an opaque cursor that names the last slug served.

Keyset, not offset: tenants signed up while a client pages through do not shift or repeat the
pages it has not read yet. The cursor is URL-safe base64 so clients treat it as opaque and the
format may change; a cursor that does not decode to a valid slug is a 422, not a 500.
"""

from __future__ import annotations

import base64
import binascii

from provisioner.errors import UsageError
from provisioner.spec import validate_slug

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
_PREFIX = "s1:"  # the cursor's format version


def encode_cursor(last_slug: str) -> str:
    return base64.urlsafe_b64encode(f"{_PREFIX}{last_slug}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    """The slug a cursor points after; UsageError if it is not one this API handed out."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, ValueError) as exc:
        raise UsageError("cursor is not valid: pass next_cursor from the previous page") from exc
    if not text.startswith(_PREFIX):
        raise UsageError("cursor is not valid: pass next_cursor from the previous page")
    try:
        return validate_slug(text[len(_PREFIX) :])
    except UsageError as exc:
        raise UsageError("cursor is not valid: pass next_cursor from the previous page") from exc
