"""The tenants' say in rollouts (issue 15): canary flag, maintenance window, pin, legal hold;
and what `tenants show` and the API report about a tenant's releases.

Each change locks the tenant row, writes the column and appends an event in one transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from provisioner.errors import TenantNotFound
from provisioner.registry.core import _aware, to_tenant
from provisioner.registry.facade import Registry
from provisioner.registry.models import rollout_tenants, rollouts, tenants
from provisioner.registry.records import Tenant
from provisioner.retention import iso
from provisioner.rollout import controller as ctl
from provisioner.rollout.strategy import Strategy
from provisioner.rollout.windows import window_of

t = tenants.c


def set_facts(
    registry: Registry,
    slug: str,
    kind: str,
    values: dict[str, Any],
    *,
    actor: str,
    reason: str,
    now: datetime,
) -> Tenant:
    """Write rollout facts (columns of `values`) on a tenant and record event `kind`; a request
    that changes nothing records nothing (the audit trail must not say a hold was lifted, or a
    pin removed, that never existed)."""
    with registry.write() as conn:
        row = registry._lock(conn, slug)
        if all(_same(row._mapping[column], value) for column, value in values.items()):
            return to_tenant(row)
        conn.execute(
            sa.update(tenants)
            .where(t.id == row.id)
            .values(version=row.version + 1, updated_at=now, **values)
        )
        shown = {k: iso(v) if isinstance(v, datetime) else v for k, v in values.items()}
        registry._event(conn, row, kind, now, actor, reason, shown)
        return to_tenant(conn.execute(sa.select(tenants).where(t.id == row.id)).one())


def _same(stored: Any, wanted: Any) -> bool:
    if isinstance(stored, datetime) and isinstance(wanted, datetime):
        return _aware(stored) == _aware(wanted)
    return bool(stored == wanted)


def release_status(registry: Registry, slug: str, now: datetime) -> dict[str, Any]:
    """A tenant's release, target release, rollout facts, and why it is waiting (if it is)."""
    with registry.read() as conn:
        found = conn.execute(sa.select(tenants).where(t.slug == slug)).one_or_none()
        if found is None:
            raise TenantNotFound(
                f"no tenant {slug!r} in the registry: `provisioner tenants list` shows them"
            )
        row = found
        active = conn.execute(
            sa.select(rollouts, rollout_tenants.c.wave.label("tenant_wave"),
                      rollout_tenants.c.status.label("tenant_status"),
                      rollout_tenants.c.reason.label("tenant_reason"))
            .join(rollout_tenants, rollout_tenants.c.rollout_id == rollouts.c.id)
            .where(rollout_tenants.c.slug == slug, rollouts.c.state.in_(ctl.ACTIVE_STATES))
        ).one_or_none()
    window = window_of(row.location, row.maintenance_window)
    info: dict[str, Any] = {
        "release": row.release_id,
        "target_release": row.target_release_id,
        "canary": bool(row.canary),
        "maintenance_window": str(window),
        "pinned_until": iso(row.pinned_until) if row.pinned_until else None,
        "pin_reason": row.pin_reason,
        "legal_hold": row.legal_hold,
        "rollout": None,
        "waiting": None,
    }
    if active is None:
        return info
    wave_names = [w["name"] for w in active.waves]
    info["rollout"] = {
        "id": active.id,
        "release": active.release_id,
        "state": active.state,
        "wave": wave_names[active.tenant_wave],
        "status": active.tenant_status,
        "reason": active.tenant_reason,
    }
    if active.tenant_status != ctl.PENDING:
        return info
    view = ctl.TenantView(
        slug=slug, location=row.location, status=ctl.PENDING, desired_state=row.desired_state,
        legal_hold=bool(row.legal_hold), pinned_until=row.pinned_until,
        pin_reason=row.pin_reason or "", window=window,
    )
    strategy = Strategy.from_dict(active.strategy)
    if active.state != ctl.RUNNING:
        info["waiting"] = f"rollout {active.id} is {active.state}"
    elif active.tenant_wave > active.wave:
        # Say now what will leave the tenant out when its wave comes (a hold, a pin): an operator
        # reading "in wave X" alone expects it to be updated.
        skip = ctl.skip_reason(view, now)
        info["waiting"] = (
            f"in wave {wave_names[active.tenant_wave]!r}; rollout {active.id} is at wave"
            f" {wave_names[active.wave]!r}"
        ) + (f"; skipped when its wave comes if still {skip}" if skip else "")
    else:
        info["waiting"] = (
            ctl.skip_reason(view, now)
            or ctl.wait_reason(view, strategy, now)
            or "next when a worker ticks the rollout (in-flight limit per region)"
        )
    return info


def rollout_facts(registry: Registry) -> list[dict[str, Any]]:
    """Every tenant's say in rollouts (for `rollout simulate --registry`)."""
    with registry.read() as conn:
        rows = conn.execute(
            sa.select(t.slug, t.desired_state, t.legal_hold, t.pinned_until, t.pin_reason,
                      t.maintenance_window, t.canary).order_by(t.slug)
        )
        return [dict(r._mapping) for r in rows]
