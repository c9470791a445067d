"""Rollouts in the registry: their rows, their tenants, their events, and the store the rollout
driver (provisioner.rollout.driver) advances them through.

Durability: every controller step runs in one transaction that locks the rollout row
(`FOR UPDATE SKIP LOCKED` on PostgreSQL: a second worker skips a rollout another is stepping;
`BEGIN IMMEDIATE` on SQLite). Setting a tenant's target release, bumping its generation (so the
workers claim it with fresh attempts) and marking it targeted commit together; a worker's
success records the applied release and the rollout tenant's status in the same transaction as
the observed state (`record_outcome`). So a process killed at any point leaves either the step
or nothing, and a release is applied to a tenant once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from provisioner.errors import IllegalTransition, RolloutNotFound, UsageError
from provisioner.registry.facade import Registry
from provisioner.registry.models import (
    rollout_events,
    rollout_tenants,
    rollouts,
    tenant_events,
    tenants,
)
from provisioner.registry.records import Tenant
from provisioner.retention import iso
from provisioner.rollout import controller as ctl
from provisioner.rollout.health import HealthTarget
from provisioner.rollout.strategy import Strategy, Wave
from provisioner.rollout.windows import window_of

t, rt, ro = tenants.c, rollout_tenants.c, rollouts.c


@dataclass(frozen=True)
class RolloutSummary:
    id: int
    release_id: int
    state: str
    wave: int
    waves: list[dict[str, Any]]
    strategy: dict[str, Any]
    halt_reason: str | None
    failing: list[str]
    actor: str
    reason: str
    dangerous_reason: str | None
    created_at: datetime
    updated_at: datetime
    wave_started_at: datetime | None
    wave_finished_at: datetime | None
    counts: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        current = self.waves[self.wave]["name"] if self.wave < len(self.waves) else None
        return {
            "id": self.id,
            "release": self.release_id,
            "state": self.state,
            "wave": self.wave,
            "current_wave": current,
            "waves": self.waves,
            "strategy": self.strategy,
            "halt_reason": self.halt_reason,
            "failing": self.failing,
            "tenants": self.counts,
            "actor": self.actor,
            "reason": self.reason,
            "dangerous_reason": self.dangerous_reason,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "wave_started_at": iso(self.wave_started_at) if self.wave_started_at else None,
            "wave_finished_at": iso(self.wave_finished_at) if self.wave_finished_at else None,
        }


# A step the worker adds to the transaction that records an operation's outcome (the tenant's
# row as it will be stored): rollouts record their tenant's outcome atomically with it.
RecordHook = Callable[[sa.Connection, Tenant], None]


def _event(
    conn: sa.Connection,
    rollout_id: int,
    kind: str,
    now: datetime,
    actor: str,
    data: dict[str, Any],
    reason: str = "",
    webhook_url: str | None = None,
) -> None:
    conn.execute(
        sa.insert(rollout_events).values(
            rollout_id=rollout_id, kind=kind, at=now, actor=actor, reason=reason, data=data
        )
    )
    if webhook_url:
        from provisioner.registry import webhooks as deliveries

        payload = {"event": kind, "rollout": rollout_id, "at": iso(now), "reason": reason, **data}
        deliveries.enqueue(
            conn, slug=f"rollout-{rollout_id}", event=kind, url=webhook_url, payload=payload,
            now=now,
        )


def _not_found(rollout_id: int) -> RolloutNotFound:
    return RolloutNotFound(f"no rollout {rollout_id}: `provisioner rollout status` lists them")


# --- starting and operator verbs ---------------------------------------------------------------


def active_rollout(conn: sa.Connection) -> int | None:
    return conn.execute(
        sa.select(ro.id).where(ro.state.in_(ctl.ACTIVE_STATES)).order_by(ro.id).limit(1)
    ).scalar_one_or_none()


def start_rollout(
    registry: Registry,
    *,
    release_id: int,
    waves: Sequence[Wave],
    from_releases: Mapping[str, int | None],
    strategy: Strategy,
    actor: str,
    reason: str,
    dangerous_reason: str | None,
    now: datetime,
    webhook_url: str | None = None,
) -> int:
    """Record a rollout and its tenants wave by wave; refused while another one is active."""
    with registry.write() as conn:
        if conn.dialect.name == "postgresql":  # two concurrent starts: one waits, then refuses
            conn.execute(sa.text("LOCK TABLE rollouts IN SHARE ROW EXCLUSIVE MODE"))
        other = active_rollout(conn)
        if other is not None:
            raise UsageError(
                f"rollout {other} is still active: finish, resume or abort it first"
                f" (`provisioner rollout status {other}`)"
            )
        new = conn.execute(
            sa.insert(rollouts).values(
                release_id=release_id,
                state=ctl.RUNNING,
                strategy=strategy.to_dict(),
                waves=[w.to_dict() for w in waves],
                wave=0,
                wave_started_at=now,
                wave_checked=False,
                accepted_failures=0,
                dangerous_reason=dangerous_reason,
                actor=actor,
                reason=reason,
                created_at=now,
                updated_at=now,
            )
        ).inserted_primary_key
        assert new is not None
        rollout_id = int(new[0])
        rows = [
            {
                "rollout_id": rollout_id,
                "slug": slug,
                "wave": index,
                "status": ctl.PENDING,
                "from_release_id": from_releases.get(slug),
                "reason": "",
                "updated_at": now,
            }
            for index, wave in enumerate(waves)
            for slug in wave.tenants
        ]
        for chunk in range(0, len(rows), 5000):
            conn.execute(sa.insert(rollout_tenants), rows[chunk : chunk + 5000])
        data = {"release": release_id, "tenants": len(rows), "waves": [w.to_dict() for w in waves],
                "strategy": strategy.to_dict()}
        _event(conn, rollout_id, "rollout.started", now, actor, data, reason, webhook_url)
        if dangerous_reason is not None:
            _event(conn, rollout_id, "rollout.dangerous-approved", now, actor,
                   {"release": release_id}, dangerous_reason, webhook_url)
        return rollout_id


_VERBS = {
    # verb: (states it applies to, new state, event)
    "pause": ((ctl.RUNNING,), ctl.PAUSED, "rollout.paused"),
    "resume": ((ctl.PAUSED, ctl.HALTED), ctl.RUNNING, "rollout.resumed"),
    "abort": (ctl.ACTIVE_STATES, ctl.ABORTED, "rollout.aborted"),
}


def operate(
    registry: Registry,
    rollout_id: int,
    verb: str,
    *,
    actor: str,
    reason: str,
    now: datetime,
    webhook_url: str | None = None,
) -> RolloutSummary:
    """pause, resume or abort; IllegalTransition (exit 2) from a state that does not allow it.

    Resuming a halted rollout accepts the failures its current wave has so far: the budget
    counts only new ones. Aborting withdraws the targets no worker has picked up yet; tenants
    already updated stay on the release (roll back by starting a rollout of the previous one).
    """
    allowed, new_state, kind = _VERBS[verb]
    with registry.write() as conn:
        row = conn.execute(
            sa.select(rollouts).where(ro.id == rollout_id).with_for_update()
        ).one_or_none()
        if row is None:
            raise _not_found(rollout_id)
        if row.state not in allowed:
            raise IllegalTransition(
                f"cannot {verb} rollout {rollout_id}: it is {row.state}"
                f" ({verb} applies to {', '.join(allowed)})"
            )
        values: dict[str, Any] = {"state": new_state, "updated_at": now}
        if verb == "resume":
            values["accepted_failures"] = conn.execute(
                sa.select(sa.func.count()).where(
                    rt.rollout_id == rollout_id, rt.wave == row.wave, rt.status == ctl.FAILED
                )
            ).scalar_one()
            values["halt_reason"] = None
            values["failing"] = None
        conn.execute(sa.update(rollouts).where(ro.id == rollout_id).values(**values))
        _event(conn, rollout_id, kind, now, actor, {"from": row.state}, reason, webhook_url)
        if verb == "abort":
            fresh = conn.execute(sa.select(rollouts).where(ro.id == rollout_id)).one()
            tx = RegistryTx(conn, fresh, actor, webhook_url)
            pending = [v.slug for v in tx.wave_tenants(now)
                       if v.status == ctl.TARGETED and not v.lease_held]
            tx.withdraw(pending, now)
    return get_rollout(registry, rollout_id)


# --- reading -----------------------------------------------------------------------------------


def _summary(conn: sa.Connection, row: Any) -> RolloutSummary:
    counts: dict[str, int] = dict(
        conn.execute(
            sa.select(rt.status, sa.func.count()).where(rt.rollout_id == row.id).group_by(rt.status)
        ).all()
    )
    per_wave = conn.execute(
        sa.select(rt.wave, rt.status, sa.func.count())
        .where(rt.rollout_id == row.id)
        .group_by(rt.wave, rt.status)
    ).all()
    waves = [dict(w, index=i) for i, w in enumerate(row.waves)]
    for wave, status, n in per_wave:
        waves[wave].setdefault("status", {})[status] = n
    return RolloutSummary(
        id=row.id,
        release_id=row.release_id,
        state=row.state,
        wave=row.wave,
        waves=waves,
        strategy=row.strategy,
        halt_reason=row.halt_reason,
        failing=list(row.failing or []),
        actor=row.actor,
        reason=row.reason,
        dangerous_reason=row.dangerous_reason,
        created_at=row.created_at,
        updated_at=row.updated_at,
        wave_started_at=row.wave_started_at,
        wave_finished_at=row.wave_finished_at,
        counts={s: int(counts.get(s, 0)) for s in
                (ctl.PENDING, ctl.TARGETED, ctl.APPLIED, ctl.HEALTHY, ctl.FAILED, ctl.SKIPPED)},
    )


def get_rollout(registry: Registry, rollout_id: int) -> RolloutSummary:
    with registry.read() as conn:
        row = conn.execute(sa.select(rollouts).where(ro.id == rollout_id)).one_or_none()
        if row is None:
            raise _not_found(rollout_id)
        return _summary(conn, row)


def list_rollouts(registry: Registry) -> list[RolloutSummary]:
    with registry.read() as conn:
        return [_summary(conn, r) for r in conn.execute(sa.select(rollouts).order_by(ro.id))]


def rollout_history(registry: Registry, rollout_id: int) -> list[dict[str, Any]]:
    with registry.read() as conn:
        rows = conn.execute(
            sa.select(rollout_events)
            .where(rollout_events.c.rollout_id == rollout_id)
            .order_by(rollout_events.c.id)
        )
        return [
            {"kind": r.kind, "at": iso(r.at), "actor": r.actor, "reason": r.reason,
             "data": r.data}
            for r in rows
        ]


def rollout_tenant_rows(registry: Registry, rollout_id: int) -> list[dict[str, Any]]:
    with registry.read() as conn:
        rows = conn.execute(
            sa.select(rt.slug, rt.wave, rt.status, rt.reason, rt.from_release_id)
            .where(rt.rollout_id == rollout_id)
            .order_by(rt.wave, rt.slug)
        )
        return [dict(r._mapping) for r in rows]


# --- the driver's store ------------------------------------------------------------------------


class RegistryTx:
    """One locked rollout inside a registry transaction (driver.RolloutTx)."""

    def __init__(
        self, conn: sa.Connection, row: Any, actor: str, webhook_url: str | None = None
    ) -> None:
        self.conn = conn
        self.row = row
        self.actor = actor
        self.webhook_url = webhook_url

    @property
    def rollout(self) -> ctl.RolloutView:
        row = self.row
        return ctl.RolloutView(
            id=row.id,
            release_id=row.release_id,
            state=row.state,
            wave=row.wave,
            wave_names=tuple(w["name"] for w in row.waves),
            strategy=Strategy.from_dict(row.strategy),
            wave_started_at=row.wave_started_at,
            wave_finished_at=row.wave_finished_at,
            wave_checked=bool(row.wave_checked),
            accepted_failures=row.accepted_failures,
        )

    def wave_tenants(self, now: datetime) -> list[ctl.TenantView]:
        rows = self.conn.execute(
            sa.select(
                rt.slug, rt.status, t.location, t.desired_state, t.legal_hold, t.pinned_until,
                t.pin_reason, t.maintenance_window, t.lease_owner, t.lease_expires_at,
            )
            .join(tenants, t.slug == rt.slug)
            .where(rt.rollout_id == self.row.id, rt.wave == self.row.wave)
            .order_by(rt.slug)
        )
        return [
            ctl.TenantView(
                slug=r.slug,
                location=r.location,
                status=r.status,
                desired_state=r.desired_state,
                legal_hold=bool(r.legal_hold),
                pinned_until=r.pinned_until,
                pin_reason=r.pin_reason or "",
                window=window_of(r.location, r.maintenance_window),
                lease_held=r.lease_owner is not None
                and r.lease_expires_at is not None
                and r.lease_expires_at > now,
            )
            for r in rows
        ]

    def _set_status(
        self, slugs: Sequence[str], status: str, now: datetime, reason: str = ""
    ) -> None:
        self.conn.execute(
            sa.update(rollout_tenants)
            .where(rt.rollout_id == self.row.id, rt.slug.in_(list(slugs)))
            .values(status=status, reason=reason, updated_at=now)
        )

    def _tenant_events(self, slugs: Sequence[str], kind: str, now: datetime,
                       data: dict[str, Any], reason: str = "") -> None:
        ids = self.conn.execute(sa.select(t.id, t.slug).where(t.slug.in_(list(slugs)))).all()
        if ids:
            self.conn.execute(sa.insert(tenant_events), [
                {"tenant_id": i, "slug": s, "kind": kind, "at": now, "recorded_at": now,
                 "actor": self.actor, "reason": reason, "data": data}
                for i, s in ids
            ])

    def target(self, slugs: Sequence[str], now: datetime) -> None:
        # A new generation: the workers claim the tenant (with fresh attempts) and apply it.
        self.conn.execute(
            sa.update(tenants)
            .where(t.slug.in_(list(slugs)))
            .values(
                target_release_id=self.row.release_id,
                generation=t.generation + 1,
                version=t.version + 1,
                updated_at=now,
            )
        )
        self._set_status(slugs, ctl.TARGETED, now)
        self._tenant_events(slugs, "rollout.targeted", now,
                            {"rollout": self.row.id, "release": self.row.release_id})

    def skip(self, reasons: Mapping[str, str], now: datetime) -> None:
        for slug, reason in reasons.items():
            self._set_status([slug], ctl.SKIPPED, now, reason)

    def withdraw(self, slugs: Sequence[str], now: datetime) -> None:
        """Back to pending: only tenants no worker holds, checked again under the row lock (a
        claim takes its rows FOR UPDATE SKIP LOCKED, so it cannot slip in between)."""
        if not slugs:
            return
        locked = self.conn.execute(
            sa.select(t.slug, t.release_id, t.lease_owner, t.lease_expires_at)
            .where(t.slug.in_(list(slugs)), t.target_release_id == self.row.release_id)
            .with_for_update()
        ).all()
        free = [r for r in locked if r.lease_owner is None or r.lease_expires_at is None
                or r.lease_expires_at <= now]
        for row in free:
            self.conn.execute(
                sa.update(tenants).where(t.slug == row.slug).values(
                    target_release_id=row.release_id, version=t.version + 1, updated_at=now
                )
            )
        mine = [r.slug for r in free]
        if mine:
            self._set_status(mine, ctl.PENDING, now, "withdrawn before a worker started it")
            self._tenant_events(mine, "rollout.withdrawn", now, {"rollout": self.row.id})

    def update(self, now: datetime, **values: Any) -> None:
        self.conn.execute(
            sa.update(rollouts).where(ro.id == self.row.id).values(updated_at=now, **values)
        )

    def event(self, kind: str, now: datetime, data: dict[str, Any], reason: str = "") -> None:
        _event(self.conn, self.row.id, kind, now, self.actor, data, reason, self.webhook_url)


class RegistryStore:
    """driver.RolloutStore over the registry."""

    def __init__(self, registry: Registry, *, actor: str = "rollout",
                 webhook_url: str | None = None) -> None:
        self.registry = registry
        self.actor = actor
        self.webhook_url = webhook_url

    def active_rollouts(self) -> list[int]:
        with self.registry.read() as conn:
            return list(
                conn.execute(
                    sa.select(ro.id).where(ro.state.in_(ctl.ACTIVE_STATES)).order_by(ro.id)
                ).scalars()
            )

    @contextlib.contextmanager
    def transaction(self, rollout_id: int) -> Iterator[RegistryTx | None]:
        with self.registry.write() as conn:
            row = conn.execute(
                sa.select(rollouts)
                .where(ro.id == rollout_id)
                .with_for_update(skip_locked=True)
            ).one_or_none()
            if row is None or row.state not in ctl.ACTIVE_STATES:
                yield None
                return
            yield RegistryTx(conn, row, self.actor, self.webhook_url)

    def health_targets(self, rollout_id: int, slugs: Sequence[str]) -> list[HealthTarget]:
        with self.registry.read() as conn:
            rows = conn.execute(
                sa.select(t.slug, t.location, t.plan, t.outputs).where(t.slug.in_(list(slugs)))
            )
            return [HealthTarget(r.slug, r.location, r.plan, dict(r.outputs or {})) for r in rows]

    def record_health(
        self,
        rollout_id: int,
        wave: int,
        results: Mapping[str, str | None],
        *,
        final: bool,
        now: datetime,
    ) -> None:
        expected = ctl.HEALTHY if final else ctl.APPLIED
        with self.registry.write() as conn:
            row = conn.execute(
                sa.select(rollouts).where(ro.id == rollout_id).with_for_update()
            ).one()
            if row.state != ctl.RUNNING or row.wave != wave:
                return  # the rollout moved on meanwhile; these verdicts are stale
            tx = RegistryTx(conn, row, self.actor, self.webhook_url)
            healthy = sorted(slug for slug, reason in results.items() if reason is None)
            if healthy:  # one statement for the many that pass
                conn.execute(
                    sa.update(rollout_tenants)
                    .where(rt.rollout_id == rollout_id, rt.slug.in_(healthy),
                           rt.status == expected)
                    .values(status=ctl.HEALTHY, reason="", updated_at=now)
                )
            for slug, reason in sorted(results.items()):
                if reason is None:
                    continue
                changed = conn.execute(
                    sa.update(rollout_tenants)
                    .where(rt.rollout_id == rollout_id, rt.slug == slug, rt.status == expected)
                    .values(status=ctl.FAILED, reason=reason, updated_at=now)
                ).rowcount
                if changed:
                    tx._tenant_events([slug], "rollout.unhealthy", now,
                                      {"rollout": rollout_id}, reason)
            if final:
                tx.update(now, wave_checked=True)


# --- what a worker records ---------------------------------------------------------------------


# Built once, executed with parameters: a worker runs these for every tenant it updates.
_SET_RELEASE = (
    sa.update(tenants).where(t.slug == sa.bindparam("b_slug"))
    .values(release_id=sa.bindparam("b_release"))
)
_ROLLOUT_OF = sa.select(ro.id).where(
    ro.release_id == sa.bindparam("b_release"), ro.state.in_(ctl.ACTIVE_STATES)
)
_MARK_TARGETED = (
    sa.update(rollout_tenants)
    .where(rt.rollout_id == sa.bindparam("b_rollout"), rt.slug == sa.bindparam("b_slug"),
           rt.status == ctl.TARGETED)
    .values(status=sa.bindparam("b_status"), reason=sa.bindparam("b_reason"),
            updated_at=sa.bindparam("b_at"))
)


def record_outcome(
    conn: sa.Connection, slug: str, release_id: int, error: str | None, now: datetime
) -> None:
    """In the worker's recording transaction: on success the tenant is on `release_id`; the
    active rollout that targeted it (if any) sees `applied`, or `failed` with the error."""
    if error is None:
        conn.execute(_SET_RELEASE, {"b_slug": slug, "b_release": release_id})
    rollout_id = conn.execute(_ROLLOUT_OF, {"b_release": release_id}).scalar_one_or_none()
    if rollout_id is None:
        return
    conn.execute(_MARK_TARGETED, {
        "b_rollout": rollout_id, "b_slug": slug, "b_at": now, "b_reason": error or "",
        "b_status": ctl.FAILED if error else ctl.APPLIED,
    })
