"""The signup API: `create_app(registry, tokens)` builds the FastAPI application.

    POST   /v1/tenants                          tenants:write  202 + the tenant, idempotent
    GET    /v1/tenants                          tenants:read   tenants, filtered, a page at a time
    GET    /v1/tenants/{slug}                   tenants:read   the tenant and its status
    GET    /v1/tenants/{slug}/events            tenants:read   its audit trail
    GET    /v1/tenants/{slug}/webhook-deliveries tenants:read  its webhook delivery log
    POST   /v1/tenants/{slug}/billing-events    billing:write  a billing event
    DELETE /v1/tenants/{slug}                   tenants:write  202: offboarding requested
    GET    /healthz, /readyz, /metrics          (no token)     liveness, registry, Prometheus

Handlers are plain `def`s: FastAPI runs them in its thread pool, where the registry's short
synchronous transactions belong. OpenAPI at /openapi.json, docs at /docs (Swagger UI from
local files, provisioner.api.docs).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, FastAPI, Header, Path, Query, Request, Response, Security
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from provisioner import lifecycle
from provisioner.api import docs, errors, paging
from provisioner.api.auth import Caller, Tokens
from provisioner.api.errors import BodyLimit
from provisioner.api.metrics import Metrics, MetricsMiddleware
from provisioner.api.models import (
    IDEMPOTENCY_KEY_PATTERN,
    BillingEventRequest,
    BillingEventResult,
    DeliveryList,
    ErrorBody,
    EventList,
    Health,
    OffboardingResult,
    SignupRequest,
    TenantPage,
    TenantView,
    event_view,
    tenant_view,
)
from provisioner.errors import (
    IllegalTransition,
    NotAuthenticated,
    RegistryUnavailable,
    ScopeMissing,
    UsageError,
)
from provisioner.spec import SLUG_PATTERN

if TYPE_CHECKING:
    from provisioner.registry import Registry, Tenant

API_VERSION = "1.0.0"
# How far a billing event's `at` may lie ahead of this server's clock (the sender's clock may
# run a little fast). A tenant's events are kept in time order, so an event dated later would
# make every event before that instant, a DELETE's cancellation included, a refusal until then.
BILLING_CLOCK_SKEW = timedelta(minutes=5)
SLUG_PATH = Path(
    min_length=1,
    max_length=64,
    pattern=SLUG_PATTERN,  # refused alike on every database, before any query (NUL, newline)
    description="The tenant's slug.",
)


def _responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    described = {
        401: "No valid bearer token.",
        403: "The token lacks the scope this operation needs.",
        404: "No tenant with that slug.",
        409: "Conflict: the slug is taken, the idempotency key was used with another body, or"
        " the lifecycle refuses the change.",
        413: "The request body is too large.",
        422: "The request is not valid.",
        503: "The registry is unavailable (Retry-After says when to try again).",
    }
    return {c: {"model": ErrorBody, "description": described[c]} for c in (*codes, 503)}


def _utcnow() -> datetime:
    return datetime.now(UTC)


def create_app(
    registry: Registry,
    tokens: Tokens,
    *,
    max_body_bytes: int = errors.DEFAULT_MAX_BODY_BYTES,
    clock: Callable[[], datetime] = _utcnow,
    idempotency_ttl: timedelta | None = None,
) -> FastAPI:
    """The application over an open Registry; the caller owns (and closes) the registry.

    `idempotency_ttl`: how long a caller's Idempotency-Key is replayed (default 24 h)."""
    from provisioner.registry import signup as signups
    from provisioner.registry import webhooks as deliveries
    from provisioner.spec import TenantSpec

    app = FastAPI(
        title="provisioner signup API",
        version=API_VERSION,
        description="Create single-tenant instances and follow them until they are ready.",
        default_response_class=errors.SortedJSONResponse,
        docs_url=None,  # served from local files below: FastAPI's default loads a CDN
        redoc_url=None,
    )
    docs.install(app)
    metrics = Metrics()
    metrics.watch_registry(registry)
    bearer = HTTPBearer(auto_error=False, description="A token from PROVISIONER_API_TOKENS.")

    def need(scope: str) -> Callable[..., Awaitable[Caller]]:
        # A default, not Annotated[...]: these annotations are strings (PEP 563) and `bearer`
        # is local, so FastAPI could not resolve it from the module. `async`: a hash and a
        # constant-time compare belong on the event loop, not in a thread-pool hop of its own.
        async def check(
            credentials: HTTPAuthorizationCredentials | None = Security(bearer),
        ) -> Caller:
            return authorize(credentials.credentials if credentials else None, scope)

        check.required_scope = scope  # type: ignore[attr-defined]  # read by the gatekeeper
        return check

    def authorize(token: str | None, scope: str) -> Caller:
        if token is None:
            raise NotAuthenticated("send `Authorization: Bearer <token>`")
        caller = tokens.authenticate(token)
        if caller is None:
            raise NotAuthenticated("the bearer token is not valid")
        if not caller.allows(scope):
            raise ScopeMissing(f"this token lacks the {scope} scope", scope=scope)
        return caller

    def gatekeeper(request: Request) -> JSONResponse | None:
        """The route's token check, for a request FastAPI refused before running it."""
        scope = _required_scope(request.scope.get("route"))
        if scope is None:
            return None
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        try:
            authorize(
                token.strip() if scheme.lower() == "bearer" and token.strip() else None, scope
            )
        except (NotAuthenticated, ScopeMissing) as exc:
            return errors.answer(exc)
        return None

    errors.install(app, gatekeeper)

    reader = Depends(need("tenants:read"))
    writer = Depends(need("tenants:write"))
    biller = Depends(need("billing:write"))

    @app.post(
        "/v1/tenants",
        status_code=202,
        response_model=TenantView,
        responses=_responses(401, 403, 409, 413, 422),
        summary="Sign up: record the desired tenant; workers build it.",
    )
    def create_tenant(
        body: SignupRequest,
        caller: Caller = writer,
        idempotency_key: Annotated[
            str | None,
            Header(
                alias="Idempotency-Key",
                pattern=IDEMPOTENCY_KEY_PATTERN,
                description="Same key and body from the same token within 24 h: the same"
                " answer. Same key, other body: 409. Keys are per token.",
            ),
        ] = None,
    ) -> Response:
        spec = TenantSpec.create(body.slug, body.location, body.plan)  # UsageError: 422
        canonical = json.dumps(body.model_dump(), sort_keys=True, separators=(",", ":"))
        answer = signups.signup(
            registry,
            spec,
            body.admin_email,
            actor=f"api:{caller.name}",
            key=idempotency_key,
            request_hash=hashlib.sha256(canonical.encode()).hexdigest(),
            render=lambda tenant: tenant_view(tenant, clock()),
            conflict=lambda exc: errors.error_body("tenant_exists", str(exc)),
            key_ttl=idempotency_ttl or signups.DEFAULT_KEY_TTL,
        )  # IdempotencyKeyReused: 409
        headers = {"Location": f"/v1/tenants/{spec.slug}"} if answer.status_code == 202 else {}
        if answer.replayed:
            headers["Idempotent-Replayed"] = "true"
        return errors.SortedJSONResponse(
            answer.body, status_code=answer.status_code, headers=headers
        )

    @app.get(
        "/v1/tenants",
        response_model=TenantPage,
        responses=_responses(401, 403, 422),
        summary="Tenants sorted by slug, filtered, one page at a time (follow next_cursor).",
    )
    def list_tenants(
        _: Caller = reader,
        state: Annotated[
            str | None,
            Query(
                max_length=16, description="Desired state: active, suspended, closed or deleted."
            ),
        ] = None,
        location: Annotated[
            str | None, Query(max_length=32, description="Location code or AWS region.")
        ] = None,
        plan: Annotated[str | None, Query(max_length=32, description="Plan name.")] = None,
        created_since: Annotated[
            datetime | None,
            Query(description="Only tenants created at or after this instant (naive: UTC)."),
        ] = None,
        cursor: Annotated[
            str | None, Query(max_length=128, description="next_cursor of the previous page.")
        ] = None,
        limit: Annotated[
            int, Query(ge=1, le=paging.MAX_LIMIT, description="Tenants per page.")
        ] = paging.DEFAULT_LIMIT,
    ) -> dict[str, Any]:
        from provisioner.plans import get_plan
        from provisioner.regions import catalogue

        if created_since is not None and created_since.tzinfo is None:
            created_since = created_since.replace(tzinfo=UTC)
        found = registry.list_tenants(
            state=state,
            location=catalogue().resolve(location).code if location is not None else None,
            plan=get_plan(plan).name if plan is not None else None,
            created_since=created_since,
            after=paging.decode_cursor(cursor) if cursor is not None else None,
            limit=limit + 1,  # one more than asked: whether another page exists
        )
        page, more = found[:limit], len(found) > limit
        now = clock()
        return {
            "tenants": [tenant_view(t, now) for t in page],
            "next_cursor": paging.encode_cursor(page[-1].slug) if more else None,
        }

    @app.get(
        "/v1/tenants/{slug}",
        response_model=TenantView,
        responses=_responses(401, 403, 404, 422),
        summary="The tenant, with a one-word status.",
    )
    def get_tenant(slug: Annotated[str, SLUG_PATH], _: Caller = reader) -> dict[str, Any]:
        return tenant_view(registry.get_tenant(slug), clock())

    @app.get(
        "/v1/tenants/{slug}/events",
        response_model=EventList,
        responses=_responses(401, 403, 404, 422),
        summary="The tenant's audit trail, oldest first.",
    )
    def get_events(slug: Annotated[str, SLUG_PATH], _: Caller = reader) -> dict[str, Any]:
        return {"slug": slug, "events": [event_view(e) for e in registry.events(slug)]}

    @app.get(
        "/v1/tenants/{slug}/webhook-deliveries",
        response_model=DeliveryList,
        responses=_responses(401, 403, 404, 422),
        summary="The tenant's webhook delivery log, oldest first.",
    )
    def get_deliveries(slug: Annotated[str, SLUG_PATH], _: Caller = reader) -> dict[str, Any]:
        registry.get_tenant(slug)
        return {"slug": slug, "deliveries": deliveries.deliveries(registry, slug)}

    @app.post(
        "/v1/tenants/{slug}/billing-events",
        response_model=BillingEventResult,
        responses=_responses(401, 403, 404, 409, 413, 422),
        summary="Record a billing event (conversion, cancellation, failed payment, ...).",
    )
    def post_billing_event(
        slug: Annotated[str, SLUG_PATH], body: BillingEventRequest, caller: Caller = biller
    ) -> dict[str, Any]:
        at = body.at_utc()
        if at is not None and at > clock() + BILLING_CLOCK_SKEW:
            raise UsageError(
                f"at: {at.isoformat()} is in the future: send the instant the event happened"
            )
        result = registry.record_billing_event(
            slug,
            body.kind,
            actor=f"api:{caller.name}",
            at=at,
            plan=body.plan,
            data=body.data,
            external_id=body.external_id,
            source="api",
        )
        return {
            "tenant": tenant_view(result.tenant, clock()),
            "note": result.note,
            "duplicate": result.duplicate,
            "billing_record_id": result.record.id if result.record else None,
        }

    @app.delete(
        "/v1/tenants/{slug}",
        status_code=202,
        response_model=OffboardingResult,
        responses=_responses(401, 403, 404, 409, 422),
        summary="Offboard: the data is deleted when the retention rules say so, never before.",
    )
    def delete_tenant(slug: Annotated[str, SLUG_PATH], caller: Caller = writer) -> dict[str, Any]:
        tenant, note = _offboard(registry, slug, f"api:{caller.name}")
        return {"tenant": tenant_view(tenant, clock()), "note": note}

    from provisioner.api import incidents

    incidents.install(
        app, registry, Depends(need(incidents.SCOPE)), clock, _responses(401, 403, 404, 422)
    )

    @app.get("/healthz", response_model=Health, summary="The process is alive.")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        response_model=Health,
        responses={503: {"model": ErrorBody, "description": "The registry is unreachable."}},
        summary="The registry answers.",
    )
    def readyz() -> Any:
        try:
            registry.ping()
        except RegistryUnavailable as exc:  # the detail (host, port, driver text): log only
            errors.log.error("readiness check failed: the registry is unreachable: %s", exc.reason)
            return errors.error_response(
                503, "not_ready", "the registry is unreachable", {"Retry-After": "5"}
            )
        return {"status": "ok"}

    @app.get(
        "/metrics",
        response_class=Response,
        responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text."}},
        summary="Prometheus metrics.",
    )
    def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    from provisioner.api import rollouts as rollout_routes

    app.include_router(rollout_routes.router(registry, reader, clock))
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    app.state.metrics = metrics
    return app


def _required_scope(route: Any) -> str | None:
    """The scope a route's token check demands (None: a route without one)."""
    pending = list(getattr(getattr(route, "dependant", None), "dependencies", []))
    while pending:
        dependant = pending.pop()
        scope = getattr(dependant.call, "required_scope", None)
        if scope is not None:
            return str(scope)
        pending.extend(dependant.dependencies)
    return None


def _offboard(registry: Registry, slug: str, actor: str) -> tuple[Tenant, str]:
    """A customer leaves: paid accounts are cancelled (closed; deleted 90 days later), trial and
    free accounts are suspended (deleted when their trial or inactivity clock says so). Asking
    twice changes nothing."""
    tenant = registry.get_tenant(slug)
    if tenant.desired_state in (lifecycle.CLOSED, lifecycle.DELETED):
        return tenant, f"already offboarded ({tenant.desired_state})"
    facts = tenant.facts()
    if facts.paid:
        result = registry.record_billing_event(slug, lifecycle.CANCELLED, actor=actor, source="api")
        return result.tenant, result.note
    if tenant.desired_state == lifecycle.SUSPENDED:
        return tenant, "already suspended; its data is deleted when the retention rules say so"
    try:
        tenant = registry.suspend(slug, actor=actor, reason="offboarding requested")
    except IllegalTransition:
        # The retention clock got there first (the registry applies what is due before a
        # change): the tenant is already closed or deleted, which is what was asked for.
        tenant = registry.get_tenant(slug)
        if tenant.desired_state not in (lifecycle.CLOSED, lifecycle.DELETED):
            raise
        return tenant, f"already offboarded ({tenant.desired_state})"
    return tenant, f"suspended; the {tenant.plan} plan's data is deleted by the retention rules"
