"""What a worker reports after an operation: success (`complete`), a failed attempt (`fail`),
and an operator's `retry` of a tenant the workers gave up on. Each checks, under the row lock,
that the lease is still the reporter's: a late result from a worker whose lease was taken over
is dropped, so every change is recorded once (provisioner.registry.leases has the claims).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from provisioner.incidents.rules import rulebook
from provisioner.lifecycle import DELETED, FAILED
from provisioner.registry.bound import bound
from provisioner.registry.facade import Registry
from provisioner.registry.incidents import keep_notice_contact
from provisioner.registry.leases import Claim, _release, c
from provisioner.registry.legacy_backup import start_retirement_clock
from provisioner.registry.models import tenants
from provisioner.registry.records import Tenant


def _holds(conn: sa.Connection, claim: Claim) -> bool:
    owner = conn.execute(
        sa.select(c.lease_owner).where(c.slug == claim.slug).with_for_update()
    ).scalar_one_or_none()
    return owner == claim.owner


def complete(
    registry: Registry,
    claim: Claim,
    *,
    now: datetime,
    observed_state: str,
    program_version: str | None,
    outputs: dict[str, Any] | None = None,
    deletion_evidence: dict[str, Any] | None = None,
    after: Callable[[sa.Connection, Tenant], None] | None = None,
) -> Tenant | None:
    """Record success and release the lease. None if the lease was lost (nothing recorded)."""
    with registry.write() as conn:
        if not _holds(conn, claim):
            return None
        reg = bound(registry, conn)
        observed = reg.set_observed_state(
            claim.slug,
            observed_state,
            actor=f"worker:{claim.owner}",
            at=now,
            generation=claim.generation,
            outputs=outputs,
            program_version=program_version,
        )
        if deletion_evidence is not None:
            reg.record_deletion_evidence(
                claim.slug, deletion_evidence, actor=f"worker:{claim.owner}", at=now
            )
            _scrub_signup(conn, claim.slug, now)
        _release(
            conn,
            claim.slug,
            now,
            attempts=0,
            next_attempt_at=None,
            last_error=None,
            observed_plan=claim.plan,
        )
        if claim.legacy_backup and observed_state != DELETED:
            start_retirement_clock(conn, claim.slug, claim.plan, now)
        tenant = replace(
            observed,
            lease_owner=None,
            lease_expires_at=None,
            attempts=0,
            next_attempt_at=None,
            last_error=None,
            version=observed.version + 1,
        )  # what the release above wrote, without reading the row again
        if after is not None:
            after(conn, tenant)
        return tenant


def fail(
    registry: Registry,
    claim: Claim,
    *,
    now: datetime,
    error: str,
    retry_at: datetime | None,
    after: Callable[[sa.Connection, Tenant], None] | None = None,
) -> Tenant | None:
    """Record a failed attempt and release the lease: retried at `retry_at`, or (None) given up
    on (observed state `failed`, the reason in `last_error`). None if the lease was lost."""
    with registry.write() as conn:
        if not _holds(conn, claim):
            return None
        reg = bound(registry, conn)
        actor = f"worker:{claim.owner}"
        if retry_at is None:
            reason = f"gave up after {claim.attempt} attempt(s): {error}"
            reg.set_observed_state(claim.slug, FAILED, actor=actor, at=now, error=reason)
            _release(conn, claim.slug, now, next_attempt_at=None, last_error=reason)
        else:
            reg.record_event(
                claim.slug,
                "reconcile.retry",
                actor=actor,
                reason=error,
                at=now,
                data={"attempt": claim.attempt, "next_attempt_at": retry_at.isoformat()},
            )
            _release(conn, claim.slug, now, next_attempt_at=retry_at, last_error=error)
        tenant = reg.get_tenant(claim.slug)
        if after is not None and retry_at is None:
            after(conn, tenant)
        return tenant


def retry(registry: Registry, slug: str, *, actor: str, now: datetime) -> Tenant:
    """An operator asks for fresh attempts (after fixing what made the tenant fail)."""
    with registry.write() as conn:
        reg = bound(registry, conn)
        tenant = reg.get_tenant(slug)
        conn.execute(
            sa.update(tenants)
            .where(c.slug == slug)
            .values(
                attempts=0,
                attempt_generation=None,
                next_attempt_at=None,
                version=c.version + 1,
                updated_at=now,
            )
        )
        reg.record_event(
            slug,
            "reconcile.retry-requested",
            actor=actor,
            at=now,
            data={"attempts": tenant.attempts, "last_error": tenant.last_error},
        )
        return reg.get_tenant(slug)


def destroyed_by_operator(
    registry: Registry, slug: str, *, actor: str, now: datetime, evidence: dict[str, Any]
) -> Tenant:
    """An operator's `tenants destroy` of a tenant whose deletion was decided: recorded as the
    worker records its own, so no worker destroys it again and the tombstone carries the proof."""
    with registry.write() as conn:
        reg = bound(registry, conn)
        tenant = reg.get_tenant(slug)
        reg.set_observed_state(
            slug, DELETED, actor=actor, at=now, generation=tenant.generation, outputs={}
        )
        reg.record_deletion_evidence(slug, evidence, actor=actor, at=now)
        _scrub_signup(conn, slug, now)
        return reg.get_tenant(slug)


def _scrub_signup(conn: sa.Connection, slug: str, now: datetime) -> None:
    # The admin's e-mail is tenant data: it goes with the rest, but for a breach notice about
    # data held before the deletion (README "Incidents").
    keep_notice_contact(conn, slug, now, rulebook().contact_keep_days)
