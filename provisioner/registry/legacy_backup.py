"""The transition of stacks built before the backup account: when their old backup copy may go.

A tenant registered before migration 0009 has `legacy_backup` set: its stack still holds the
in-account copy vault and key replica of the program before the backup account, and the program
keeps them while the flag is set (stacks/components/legacy_backup.py). The clock starts at the
first successful update by the worker (`start_retirement_clock`): from that update on, the daily
copy lands in the backup account's vault, so after the plan's backup retention (and a day for
the first copy job) that vault holds a full retention period of copies and every copy in the
old vault has expired by its lifecycle. Only then does `retire` clear the flag; the next update
releases the old vault from the stack (it stays in AWS, empty, retain_on_delete) and deletes the
key replica.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from provisioner.errors import CheckFailed, UsageError
from provisioner.plans import get_plan
from provisioner.registry.bound import bound
from provisioner.registry.facade import Registry
from provisioner.registry.models import tenants

FIRST_COPY_DAYS = 1  # the first daily copy job after the update lands within a day
c = tenants.c


def retire_after(plan: str, first_update: datetime) -> datetime:
    """When the new vault has held copies for the plan's retention, counted from the first
    update that copies there."""
    days = get_plan(plan).backup_retention_days + FIRST_COPY_DAYS
    return first_update + timedelta(days=days)


def start_retirement_clock(conn: sa.Connection, slug: str, plan: str, now: datetime) -> None:
    """After a successful update of a tenant keeping its old copy: start the clock, once."""
    conn.execute(
        sa.update(tenants)
        .where(c.slug == slug, c.legacy_backup.is_(True), c.legacy_backup_until.is_(None))
        .values(legacy_backup_until=retire_after(plan, now))
    )


@dataclass(frozen=True)
class Retirement:
    slug: str
    kept_until: datetime
    retired_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"tenant": self.slug, "kept_until": self.kept_until.isoformat(),
                "retired_at": self.retired_at.isoformat()}


def due(registry: Registry, slug: str) -> tuple[bool, datetime | None]:
    """(keeps an old copy, the time it may be retired or None before the first update)."""
    tenant = registry.get_tenant(slug)  # TenantNotFound for an unknown slug
    return bool(tenant.legacy_backup), tenant.legacy_backup_until


def check_due(registry: Registry, slug: str, now: datetime) -> datetime | None:
    """The time the tenant's old copy became retirable, or None once it was retired (nothing
    left to do: not an error); UsageError if it never kept one or is deleted, CheckFailed
    (exit 1) while it is not due."""
    tenant = registry.get_tenant(slug)  # TenantNotFound for an unknown slug
    if tenant.is_tombstone:
        # Its stack is destroyed (or being destroyed): there is no next update to release the
        # old vault from; the old vault and key replica are the deletion's business.
        raise UsageError(f"tenant {slug} is deleted: no stack left to retire its old backup"
                         f" copy from (`provisioner audit {slug} --deleted` shows what remains)",
                         tenant=slug)
    if tenant.legacy_backup is False:  # set by retire(); None: never kept one
        return None
    keeps, until = bool(tenant.legacy_backup), tenant.legacy_backup_until
    if not keeps:
        raise UsageError(f"tenant {slug} keeps no backup copy from before the backup account:"
                         " nothing to retire", tenant=slug)
    if until is None:
        raise CheckFailed(f"tenant {slug}'s stack has not been updated since its copies moved"
                          " to the backup account: retire its old copy after its next update"
                          " plus the plan's retention", tenant=slug)
    if now < until:
        raise CheckFailed(f"tenant {slug}'s new backup vault holds copies for the plan's"
                          f" retention only from {until.isoformat()}: retire the old copy then",
                          tenant=slug)
    return until


def retire(registry: Registry, slug: str, *, now: datetime, actor: str) -> Retirement | None:
    """Clear the tenant's `legacy_backup` once it is due; CheckFailed (exit 1) before that;
    None if it was retired already (by an earlier or a concurrent run: recorded once)."""
    until = check_due(registry, slug, now)
    if until is None:
        return None
    with registry.write() as conn:
        row = conn.execute(sa.select(c.id, c.version).where(c.slug == slug).with_for_update()
                           ).one()
        cleared = conn.execute(
            # Still flagged under the lock: of two retirements at once, one records it.
            sa.update(tenants).where(c.id == row.id, c.legacy_backup.is_(True)).values(
                legacy_backup=False, legacy_backup_until=None,
                # The stack no longer matches what the program makes of the spec: the worker
                # updates it (a release-managed tenant: at its next update).
                program_version=None, version=row.version + 1, updated_at=now)
        ).rowcount
        if not cleared:
            return None
        bound(registry, conn).record_event(
            slug, "backup.legacy-retired", actor=actor, at=now,
            reason="the backup account's vault has held copies for the plan's retention",
            data={"kept_until": until.isoformat()})
    return Retirement(slug, until, now)
