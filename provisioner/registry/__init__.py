"""The tenant registry: every tenant, its lifecycle, its audit trail, its billing records.

Public API (everything else in this package is internal)::

    from provisioner.registry import Registry

    reg = Registry.open(url=None)   # None: PROVISIONER_DATABASE_URL, else SQLite (WAL) at
                                    # data_dir()/registry.db; migrates to head (Alembic) on open
    with Registry.open(url) as reg: ...          # closes the engine afterwards

Tenants (records are frozen dataclasses, `records.Tenant`; `.to_dict()` for JSON):

    reg.create_tenant(spec, actor="cli:alice", at=None, trial_days=None, reason="") -> Tenant
        # spec: provisioner.spec.TenantSpec; raises TenantExists (exit 2)
    reg.get_tenant(slug) -> Tenant                # raises TenantNotFound (UsageError, exit 2)
    reg.find_tenant(slug) -> Tenant | None
    reg.list_tenants(state=None, location=None) -> list[Tenant]    # sorted by slug
    reg.suspend(slug, actor=..., at=None, reason="") -> Tenant     # operator hold
    reg.resume(slug, actor=..., at=None, reason="") -> Tenant      # IllegalTransition if refused
    reg.set_desired_state(slug, "active" | "suspended", actor=..., at=None, reason="")

The reconciler and the audit (what they report back):

    reg.set_observed_state(slug, observed_state, actor=..., at=None, generation=None,
                           outputs=None, program_version=None, error=None) -> Tenant
    reg.record_deletion_evidence(slug, evidence: dict, actor=..., at=None) -> Tenant
        # only for a tombstone (desired_state "deleted"); the row is never removed
    reg.record_event(slug, kind, actor=..., reason="", data=None, at=None) -> TenantEvent
        # a state-free entry in the audit trail: "restore-drill", "audit", ...
    reg.events(slug) -> list[TenantEvent]         # oldest first; append-only (DB triggers)

Billing and retention:

    reg.record_billing_event(slug, kind, actor=..., at=None, plan=None, data=None,
                             external_id=None, source="cli") -> BillingResult
        # kind in lifecycle.BILLING_EVENTS; IllegalTransition / UsageError (exit 2) if refused
    reg.import_billing(lines, actor=..., name="file") -> list[BillingResult]  # all or nothing
    reg.billing_records(slug=None) -> list[BillingRecord]
    reg.retention_plan(at, upcoming=None) -> list[retention.Action]
    reg.retention_apply(at, actor="retention") -> ApplyResult     # idempotent, concurrency-safe

Tenant fields worth knowing: `desired_state` (lifecycle.STATES: active, suspended, closed,
deleted; the reconciler makes it true; "deleted" = stack destroyed, backups gone, key scheduled
for deletion), `generation` (bumped on each desired-state change) vs `observed_generation`,
`observed_state`, `outputs` (JSON), `program_version`, the lifecycle dates, `deletion_evidence`,
and the worker's columns (`lease_owner`, `lease_expires_at`, `heartbeat_at`, `attempts`,
`next_attempt_at`, `last_error`) plus `version` (bumped on every write). Workers may add their
own migration in `migrations/versions/` (`alembic -c provisioner/registry/alembic.ini revision`).

Writes lock the tenant row (`FOR UPDATE` on PostgreSQL, `BEGIN IMMEDIATE` on SQLite): use
`reg.write()` (a context manager yielding a Connection) for your own transactions and
`models.tenants` & co. for Core statements.
"""

from __future__ import annotations

from provisioner.registry.facade import Registry
from provisioner.registry.records import (
    ApplyResult,
    BillingRecord,
    BillingResult,
    Tenant,
    TenantEvent,
)

__all__ = ["ApplyResult", "BillingRecord", "BillingResult", "Registry", "Tenant", "TenantEvent"]
