"""What the registry returns: plain frozen dataclasses, never ORM objects, so no caller holds a
session. Each has `to_dict()` for `--output json` (sorted keys, ISO instants with Z)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from provisioner.lifecycle import Facts
from provisioner.retention import iso


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


@dataclass(frozen=True)
class Tenant:
    """One registered tenant (a tombstone once `desired_state == "deleted"`)."""

    slug: str
    location: str  # regions.yaml code: "de"
    region: str  # AWS region: "eu-central-1"
    plan: str
    desired_state: str  # lifecycle.STATES: active, suspended, closed, deleted
    observed_state: str | None  # what the reconciler last saw (None: never reconciled)
    observed_at: datetime | None
    generation: int  # bumped on every desired-state change
    observed_generation: int | None  # the generation the reconciler last reached
    program_version: str | None
    outputs: dict[str, Any] | None  # stack outputs as the engine returned them
    created_at: datetime
    last_event_at: datetime
    trial_ends_at: datetime | None
    converted_at: datetime | None
    cancelled_at: datetime | None
    payment_failed_at: datetime | None
    payment_recovered_at: datetime | None
    last_activity_at: datetime | None
    suspended_at: datetime | None
    suspended_by: str | None
    closed_at: datetime | None
    closed_by: str | None
    deleted_at: datetime | None
    deleted_by: str | None
    deletion_evidence: dict[str, Any] | None
    lease_owner: str | None
    lease_expires_at: datetime | None
    heartbeat_at: datetime | None
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    version: int
    updated_at: datetime
    attempt_generation: int | None = None  # the generation `attempts` counts against
    instance_id: str | None = None  # the pooled instance it was bound to (None: its own slug)
    legacy_backup: bool | None = None  # keeps its pre-backup-account copy (legacy_backup.py)
    legacy_backup_until: datetime | None = None  # when that copy may be retired

    @property
    def state(self) -> str:
        return self.desired_state

    @property
    def is_tombstone(self) -> bool:
        return self.desired_state == "deleted"

    def facts(self) -> Facts:
        """The lifecycle facts the retention clock runs on."""
        return facts_from(self)

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


FACT_FIELDS = (
    "slug", "plan", "created_at", "last_event_at", "trial_ends_at", "converted_at",
    "cancelled_at", "payment_failed_at", "payment_recovered_at", "last_activity_at",
    "suspended_at", "suspended_by", "closed_at", "closed_by", "deleted_at", "deleted_by",
)  # fmt: skip


def facts_from(row: Any) -> Facts:
    """Facts from anything with the tenant's columns as attributes (a Tenant or a Core row)."""
    values = {name: getattr(row, name) for name in FACT_FIELDS}
    return Facts(state=row.desired_state, **values)


@dataclass(frozen=True)
class TenantEvent:
    """One entry of a tenant's append-only audit trail."""

    id: int
    slug: str
    kind: str
    at: datetime  # when it took effect
    recorded_at: datetime  # when it was written
    actor: str
    reason: str
    data: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


@dataclass(frozen=True)
class BillingRecord:
    """One billing event, kept 7 years from `occurred_at`."""

    id: int
    slug: str
    kind: str
    occurred_at: datetime
    recorded_at: datetime
    plan: str | None
    external_id: str | None
    source: str
    data: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


@dataclass(frozen=True)
class BillingResult:
    """What `record_billing_event` did."""

    tenant: Tenant  # the tenant after the event
    record: BillingRecord | None  # None for `activity` (not billing data); a replay: the stored
    note: str  # one line: what the event changed
    duplicate: bool = False  # a replay of an event whose external id was already recorded


@dataclass(frozen=True)
class ApplyResult:
    """What `retention_apply` did at `at`: the actions it applied (a second run: none)."""

    at: datetime
    applied: tuple[Any, ...]  # retention.Action, in the order applied
    purged_billing_records: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": iso(self.at),
            "applied": [a.to_dict() for a in self.applied],
            "purged_billing_records": self.purged_billing_records,
        }
