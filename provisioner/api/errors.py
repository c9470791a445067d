"""Every error the API answers is `{"error": {"code": ..., "message": ...}}`, including
FastAPI's validation errors, Starlette's 404 and 405, oversized bodies and anything unexpected
(a 500 that names no internals; the traceback goes to the log)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from provisioner.errors import (
    ExternalIdReused,
    IdempotencyKeyReused,
    IllegalTransition,
    IncidentNotFound,
    NotAuthenticated,
    ProvisionerError,
    RegistryUnavailable,
    ReleaseNotFound,
    RolloutNotFound,
    ScopeMissing,
    TenantExists,
    TenantNotFound,
    UsageError,
)

log = logging.getLogger("provisioner.api")

DEFAULT_MAX_BODY_BYTES = 16 * 1024  # a signup is a few hundred bytes

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    500: "internal_error",
    503: "not_ready",
}


class SortedJSONResponse(JSONResponse):
    """JSON with sorted keys: deterministic, so a replayed answer is byte-for-byte the first
    (PostgreSQL's JSONB does not keep the order keys were stored in)."""

    def render(self, content: Any) -> bytes:
        return json.dumps(
            content, sort_keys=True, ensure_ascii=False, allow_nan=False, separators=(",", ":")
        ).encode("utf-8")


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return SortedJSONResponse(error_body(code, message), status_code=status, headers=headers)


MAX_JSON_DEPTH_NOTE = "nested too deeply"


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:10]:
        if err.get("type") == "json_invalid":  # loc is ("body", character offset)
            loc = err.get("loc", ())
            offset = loc[-1] if loc and isinstance(loc[-1], int) else 0
            why = str((err.get("ctx") or {}).get("error") or "not JSON")
            return f"the body is not valid JSON: {why} at character {offset}"
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        message = str(err.get("msg", "invalid"))
        if err.get("type") == "value_error":  # our own validators: their text, not pydantic's
            message = str((err.get("ctx") or {}).get("error") or message)  # "Value error, ..."
            parts.append(f"{where}: {message}" if where else message)
            continue
        parts.append(f"{where or 'body'}: {message}")
    return "; ".join(parts) or "the request is not valid"


# The project's errors as HTTP answers: status, code and extra headers. The nearest class in an
# error's MRO decides, so UsageError answers for its other subclasses (UnstorableValue: a value
# the database cannot store).
_ANSWERS: dict[type[ProvisionerError], tuple[int, str, dict[str, str] | None]] = {
    NotAuthenticated: (401, "unauthorized", {"WWW-Authenticate": "Bearer"}),
    ScopeMissing: (403, "forbidden", None),
    TenantNotFound: (404, "tenant_not_found", None),
    IncidentNotFound: (404, "incident_not_found", None),
    RolloutNotFound: (404, "rollout_not_found", None),
    ReleaseNotFound: (404, "release_not_found", None),
    TenantExists: (409, "tenant_exists", None),
    IllegalTransition: (409, "illegal_transition", None),
    IdempotencyKeyReused: (409, "idempotency_key_reused", None),
    ExternalIdReused: (409, "external_id_reused", None),
    UsageError: (422, "validation_error", None),
}


# The registry's messages point an operator at the CLI; an API caller is pointed at the API.
_API_HINTS = {
    "`provisioner tenants list` shows them": "GET /v1/tenants lists them",
    "`provisioner incident list` shows them": "GET /v1/incidents lists them",
}


def answer(exc: ProvisionerError) -> JSONResponse:
    """The error body for one of the project's errors (the table above decides the status)."""
    status, code, headers = next(_ANSWERS[cls] for cls in type(exc).__mro__ if cls in _ANSWERS)
    message = str(exc)
    for cli, api in _API_HINTS.items():
        message = message.replace(cli, api)
    return error_response(status, code, message, headers)


async def _answer(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProvisionerError)  # registered for _ANSWERS' classes only
    return answer(exc)


Gatekeeper = Callable[[Request], JSONResponse | None]


def _unparsable_body(exc: BaseException) -> str:
    """FastAPI's 400 "error parsing the body" keeps the parser's exception as its cause."""
    cause = exc.__cause__
    if isinstance(cause, RecursionError):
        return f"the body is not valid JSON: {MAX_JSON_DEPTH_NOTE}"
    if isinstance(cause, UnicodeDecodeError):
        return "the body is not valid JSON: not UTF-8"
    return "the body cannot be read as JSON"


def _allowed_methods(request: Request) -> str:
    """Every method some route serves at this path. Starlette's 405 names only the first
    route that matched the path, and FastAPI makes one route per method, so GET and DELETE on
    /v1/tenants/{slug} would be answered `Allow: GET` (RFC 9110 15.5.6: Allow lists them all)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.methods:
            match, _ = route.matches(request.scope)
            if match is not Match.NONE:
                methods |= route.methods
    return ", ".join(sorted(methods))


def install(app: FastAPI, gatekeeper: Gatekeeper | None = None) -> None:
    """Register the handlers that turn every failure into the error body.

    `gatekeeper` answers 401/403 for a request whose body could not be read or validated, so a
    caller without a valid token learns nothing about the body before authentication (FastAPI
    parses the body before it runs the route's dependencies)."""

    def _gate(request: Request) -> JSONResponse | None:
        return gatekeeper(request) if gatekeeper is not None else None

    for error in _ANSWERS:
        app.add_exception_handler(error, _answer)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        refused = _gate(request)
        if refused is not None:
            return refused
        return error_response(422, "validation_error", _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # FastAPI's "error parsing the body"
            refused = _gate(request)
            if refused is not None:
                return refused
            return error_response(422, "validation_error", _unparsable_body(exc))
        code = _STATUS_CODES.get(exc.status_code, "http_error")
        message = {404: "no such resource", 405: "method not allowed for this resource"}.get(
            exc.status_code, str(exc.detail)
        )
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed_methods(request)
        return error_response(exc.status_code, code, message, headers)

    @app.exception_handler(OverflowError)
    async def _overflow(_: Request, exc: OverflowError) -> JSONResponse:
        return error_response(422, "validation_error", "a date or number is out of range")

    @app.exception_handler(RegistryUnavailable)
    async def _unavailable(_: Request, exc: RegistryUnavailable) -> JSONResponse:
        log.error("registry unavailable: %s", exc.reason)
        return error_response(
            503, "not_ready", "the registry is unavailable; retry shortly", {"Retry-After": "5"}
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal_error", "internal error; it was logged")


class BodyLimit:
    """Refuse request bodies over `max_bytes` with 413, by Content-Length or while streaming."""

    def __init__(self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = error_response(
            413, "payload_too_large", f"the request body is over {self.max_bytes} bytes"
        )
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared < 0 or declared > self.max_bytes:
                    if declared < 0:
                        bad = error_response(400, "bad_request", "invalid Content-Length")
                        await bad(scope, receive, send)
                    else:
                        await too_large(scope, receive, send)
                    return
        # Read the body here, bounded, and hand it on in one piece: a chunked body without a
        # Content-Length is refused as soon as it passes the limit, before the app sees it.
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([], message, receive), send)
                return
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.max_bytes:
                await too_large(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(chunks, None, receive), send)


def _replay(chunks: list[bytes], final: Message | None, upstream: Receive) -> Receive:
    """A receive() that yields the buffered body, then the server's own messages (disconnect)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            if final is not None:
                return final
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        return await upstream()

    return receive
