"""Request and response bodies of the signup API (Pydantic v2): what goes in apart from what
comes out. Inputs forbid unknown fields and are validated by the same functions the CLI uses
(TenantSpec.create), so the API and the CLI accept exactly the same tenants."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from provisioner.errors import UsageError
from provisioner.reconcile import status_of
from provisioner.retention import iso
from provisioner.spec import SLUG_MAX, SLUG_MIN, SLUG_PATTERN, validate_slug

if TYPE_CHECKING:
    from provisioner.registry import Tenant, TenantEvent

# Deliberately loose (RFC 5322 is not a regular language): one @, no spaces, a dot in the domain.
_EMAIL_RE = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"  # printable ASCII, no spaces

Status = Literal[
    "pending",
    "reconciling",
    "retrying",
    "ready",
    "suspended",
    "closed",
    "deleting",
    "deleted",
    "failed",
]


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable, machine-readable: tenant_exists, validation_error, ...")
    message: str = Field(description="One line: what is wrong and what to do.")


class ErrorBody(BaseModel):
    error: ErrorDetail


def _storable(value: Any, where: str = "body") -> None:
    """Refuse what a database cannot keep: NUL characters (PostgreSQL text and JSONB refuse
    them) and NaN or infinities (not JSON)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError(f"{where}: NUL characters are not allowed")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where}: numbers must be finite")
    elif isinstance(value, dict):
        for key, item in value.items():
            _storable(key, where)
            _storable(item, where)
    elif isinstance(value, list):
        for item in value:
            _storable(item, where)


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="after")
    def _only_storable_values(self) -> Any:
        for field, value in self.model_dump().items():  # the message names the field
            _storable(value, field)
        return self


class SignupRequest(_Input):
    slug: str = Field(
        min_length=SLUG_MIN,
        max_length=SLUG_MAX,
        pattern=SLUG_PATTERN,
        description="DNS label naming the tenant (acme). Never reused, even after deletion.",
    )
    location: str = Field(
        min_length=1, max_length=32, description="Signup location code (us, uk, de, ...)."
    )
    plan: str = Field(min_length=1, max_length=32, description="trial, free, standard, ...")
    admin_email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str) -> str:
        try:
            return validate_slug(value)
        except UsageError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("admin_email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not _EMAIL_RE.fullmatch(value):
            raise ValueError("not an e-mail address")
        return value


class BillingEventRequest(_Input):
    # lifecycle.BILLING_EVENTS, spelled out for the OpenAPI schema (a test keeps them equal).
    kind: Literal[
        "converted",
        "cancelled",
        "payment_failed",
        "payment_recovered",
        "activity",
        "plan_changed",
    ]
    at: datetime | None = Field(
        default=None, description="When it happened (ISO 8601; naive means UTC). Default: now."
    )
    plan: str | None = Field(
        default=None, max_length=32, description="converted / plan_changed only."
    )
    external_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="The billing system's id of the event: a retry with the same id and content"
        " gets the stored record back; the same id with other content is refused (409).",
    )
    data: dict[str, Any] | None = None

    @field_validator("at")
    @classmethod
    def _sane_instant(cls, value: datetime | None) -> datetime | None:
        # Far-off years would overflow the retention clock's date arithmetic (year 9999 + 90 d).
        if value is not None and not 2000 <= value.year <= 2100:
            raise ValueError("must be between the years 2000 and 2100")
        return value

    def at_utc(self) -> datetime | None:
        if self.at is None:
            return None
        return self.at if self.at.tzinfo else self.at.replace(tzinfo=UTC)


class Links(BaseModel):
    status: str
    events: str
    webhook_deliveries: str


class TenantView(BaseModel):
    slug: str
    status: Status = Field(description="One word for the signup service (see the README).")
    location: str
    region: str
    plan: str
    desired_state: str
    observed_state: str | None
    generation: int
    observed_generation: int | None
    program_version: str | None
    outputs: dict[str, Any]
    attempts: int
    last_error: str | None
    next_attempt_at: str | None
    created_at: str
    trial_ends_at: str | None
    updated_at: str
    provisioning: Literal["pooled", "cold"] = Field(
        description="pooled: bound to a ready warm-pool instance; cold: a full build."
    )
    status_url: str
    links: Links


class TenantPage(BaseModel):
    tenants: list[TenantView]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )


class EventView(BaseModel):
    id: int
    kind: str
    at: str
    recorded_at: str
    actor: str
    reason: str
    data: dict[str, Any] | None


class EventList(BaseModel):
    slug: str
    events: list[EventView]


class DeliveryView(BaseModel):
    id: int
    event: str
    url: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: str | None
    last_status_code: int | None
    last_error: str | None
    created_at: str
    delivered_at: str | None
    log: list[dict[str, Any]]


class DeliveryList(BaseModel):
    slug: str
    deliveries: list[DeliveryView]


class BillingEventResult(BaseModel):
    tenant: TenantView
    note: str
    duplicate: bool
    billing_record_id: int | None


class OffboardingResult(BaseModel):
    tenant: TenantView
    note: str


class Health(BaseModel):
    status: Literal["ok"]


def _iso(value: datetime | None) -> str | None:
    return iso(value) if value is not None else None


def tenant_view(tenant: Tenant, now: datetime) -> dict[str, Any]:
    """The API's view of a registry Tenant (JSON-ready, sorted keys when dumped)."""
    base = f"/v1/tenants/{tenant.slug}"
    return {
        "slug": tenant.slug,
        "status": status_of(tenant, now),
        "location": tenant.location,
        "region": tenant.region,
        "plan": tenant.plan,
        "desired_state": tenant.desired_state,
        "observed_state": tenant.observed_state,
        "generation": tenant.generation,
        "observed_generation": tenant.observed_generation,
        "program_version": tenant.program_version,
        "outputs": tenant.outputs or {},
        "attempts": tenant.attempts,
        "last_error": tenant.last_error,
        "next_attempt_at": _iso(tenant.next_attempt_at),
        "created_at": iso(tenant.created_at),
        "trial_ends_at": _iso(tenant.trial_ends_at),
        "updated_at": iso(tenant.updated_at),
        # Bound to a ready warm-pool instance (ready in about a minute), or built from scratch.
        "provisioning": "pooled" if getattr(tenant, "instance_id", None) else "cold",
        "status_url": base,
        "links": {
            "status": base,
            "events": f"{base}/events",
            "webhook_deliveries": f"{base}/webhook-deliveries",
        },
    }


def event_view(event: TenantEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "kind": event.kind,
        "at": iso(event.at),
        "recorded_at": iso(event.recorded_at),
        "actor": event.actor,
        "reason": event.reason,
        "data": event.data,
    }
