"""Warm pools in the registry: pooled instances, pool targets, claims by signups and by workers.

A pooled instance goes `building` -> `ready` -> `bound` (a signup took it) or `recycling` ->
`recycled` (idle too long, or the pool was drained); a build that keeps failing ends `failed`.

Two kinds of claim, both atomic the way tenant leases are (provisioner.registry.leases):

- A signup takes the oldest ready instance of its location and plan inside the transaction that
  creates the tenant (`claim_ready`), in one statement: `UPDATE ... WHERE id = (SELECT ...
  FOR UPDATE SKIP LOCKED) AND state = 'ready' RETURNING`. On PostgreSQL concurrent signups take
  different instances without waiting on each other; SQLite (one writer at a time) renders no
  FOR UPDATE and the conditional update is enough. The tenant row records the instance id in
  the same transaction.
- A worker takes pool jobs (`claim_jobs`): builds, release updates of ready instances, recycles.
  The rows exist before the work starts and carry a lease, so a worker killed mid-build loses
  nothing: its lease expires and another worker takes the build over (`pulumi up` converges).
  Deciding what to build (targets minus building and ready) happens under a transaction-scoped
  advisory lock on PostgreSQL, so two workers never fill the same gap twice.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from provisioner.registry.bound import bound
from provisioner.registry.facade import Registry
from provisioner.registry.models import pool_instances, pool_targets, tenant_events, tenants
from provisioner.registry.records import Tenant
from provisioner.spec import INSTANCE_ID_PREFIX, TenantSpec

BUILDING, READY, BOUND, RECYCLING, RECYCLED, FAILED = (
    "building", "ready", "bound", "recycling", "recycled", "failed",
)  # fmt: skip
POOL_STATES = (BUILDING, READY, BOUND, RECYCLING, RECYCLED, FAILED)
DEFAULT_MAX_IDLE_HOURS = 72.0  # an idle instance older than this is rebuilt (fresh AMI, release)
DEFAULT_PLAN = "trial"
_FILL_LOCK = (6_000_016, 1)  # pg_advisory_xact_lock key: one pool decision at a time
# After a build gave up, its replacement waits this long: a persistent cause (no Pulumi CLI, no
# credentials, a quota) then costs one failed instance per pool slot an hour, not one a minute.
REPLACEMENT_HOLD = timedelta(hours=1)

p = pool_instances.c


def new_instance_id() -> str:
    """`pool-` and 10 random hex digits: a valid DNS label, never a customer's slug."""
    return f"{INSTANCE_ID_PREFIX}{secrets.token_hex(5)}"


@dataclass(frozen=True)
class PoolTarget:
    location: str
    plan: str
    target: int  # ready instances kept
    max_idle_hours: float  # recycled when idle (ready) longer than this


@dataclass(frozen=True)
class PoolJob:
    """A pooled instance a worker holds, and what to do with it."""

    instance_id: str
    location: str
    region: str
    plan: str
    kind: str  # "build", "update" (a ready instance on an older program), "recycle"
    owner: str


@dataclass(frozen=True)
class PoolCounts:
    location: str
    plan: str
    target: int
    ready: int
    building: int
    recycling: int
    bound: int
    oldest_ready_at: datetime | None
    failed_last_day: int = 0  # builds given up in the last 24 hours
    last_error: str | None = None  # the pool's most recent failed attempt, if any is unsettled


# --- targets ----------------------------------------------------------------------------------


def set_target(
    registry: Registry,
    location: str,
    plan: str,
    target: int,
    *,
    now: datetime,
    max_idle_hours: float | None = None,
) -> PoolTarget:
    """Keep `target` ready instances of (location, plan); 0 drains the pool."""
    if target < 0:
        raise ValueError("a pool target is 0 or more")
    with registry.write() as conn:
        old = conn.execute(
            sa.select(pool_targets.c.max_idle_hours).where(
                pool_targets.c.location == location, pool_targets.c.plan == plan
            )
        ).scalar_one_or_none()
        idle = max_idle_hours if max_idle_hours is not None else (old or DEFAULT_MAX_IDLE_HOURS)
        values = {"target": target, "max_idle_hours": idle, "updated_at": now}
        if old is None:
            conn.execute(sa.insert(pool_targets).values(location=location, plan=plan, **values))
        else:
            conn.execute(
                sa.update(pool_targets)
                .where(pool_targets.c.location == location, pool_targets.c.plan == plan)
                .values(**values)
            )
    return PoolTarget(location, plan, target, idle)


def targets(conn: sa.Connection) -> list[PoolTarget]:
    rows = conn.execute(sa.select(pool_targets).order_by(pool_targets.c.location, "plan"))
    return [PoolTarget(r.location, r.plan, r.target, r.max_idle_hours) for r in rows]


# --- the signup's claim -------------------------------------------------------------------------


# The signup's claim, built once and executed with parameters (as core._LOCK_TENANT is): one
# statement, `UPDATE ... WHERE id = (SELECT ... LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING`, so a
# claim is one round trip to the database instead of a select and an update, and statements
# built per call no longer cost their cache-key walk (on PostgreSQL under 200 signups/s the
# signup's time is its round trips and the Python around each one). SQLite renders no FOR
# UPDATE: its write transactions are BEGIN IMMEDIATE, one writer at a time, so the subquery's
# choice cannot be taken between the select and the update; `state = 'ready'` is checked again
# by the update all the same.
_CLAIM_READY = (
    sa.update(pool_instances)
    .where(
        p.id
        == sa.select(p.id)
        .where(
            p.location == sa.bindparam("claim_location"),
            p.plan == sa.bindparam("claim_plan"),
            p.state == READY,
            sa.or_(p.lease_expires_at.is_(None), p.lease_expires_at <= sa.bindparam("claim_at")),
        )
        .order_by(p.ready_at, p.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery(),
        p.state == READY,
    )
    .values(
        state=BOUND,
        tenant_slug=sa.bindparam("claim_slug"),
        bound_at=sa.bindparam("claim_at"),
        updated_at=sa.bindparam("claim_at"),
    )
    .returning(p.instance_id)
)
_RECORD_INSTANCE = (
    sa.update(tenants)
    .where(tenants.c.slug == sa.bindparam("claimed_slug"))
    .values(instance_id=sa.bindparam("claimed_instance"))
    .returning(tenants.c.id)
)
_INSERT_EVENT = sa.insert(tenant_events)


def claim_ready(
    conn: sa.Connection,
    *,
    location: str,
    plan: str,
    slug: str,
    now: datetime,
    actor: str = "signup",
) -> str | None:
    """Bind the oldest ready instance of (location, plan) to `slug`, in the caller's transaction
    (the one creating the tenant); its instance id, or None when the pool is empty (cold)."""
    instance = conn.execute(
        _CLAIM_READY,
        {"claim_location": location, "claim_plan": plan, "claim_slug": slug, "claim_at": now},
    ).scalar_one_or_none()
    if instance is None:
        return None
    tenant_id = conn.execute(
        _RECORD_INSTANCE, {"claimed_slug": slug, "claimed_instance": instance}
    ).scalar_one()
    # The audit trail says which instance the customer got (support, the live audit and the
    # deletion proof look for its names, not the slug's).
    conn.execute(
        _INSERT_EVENT,
        {
            "tenant_id": tenant_id,
            "slug": slug,
            "kind": "pool.claimed",
            "at": now,
            "recorded_at": now,
            "actor": actor,
            "reason": f"bound to the ready pooled instance {instance}",
            "data": {"instance_id": instance, "location": location, "plan": plan},
        },
    )
    return str(instance)


def claim_for(conn: sa.Connection, spec: TenantSpec, *, now: datetime, actor: str) -> str | None:
    """`claim_ready` for the tenant `spec` describes, just inserted in the caller's transaction."""
    return claim_ready(
        conn, location=spec.location.code, plan=spec.plan.name, slug=spec.slug, now=now, actor=actor
    )


def create_tenant(
    registry: Registry,
    spec: TenantSpec,
    *,
    actor: str,
    at: datetime | None = None,
    trial_days: int | None = None,
    reason: str = "",
) -> Tenant:
    """Register a tenant as `Registry.create_tenant` does and, in the same transaction, bind a
    ready instance of its pool when there is one (the signup API's claim, for the CLI)."""
    now = registry._clock()
    with registry.write() as conn:
        tenant = bound(registry, conn).create_tenant(
            spec, actor=actor, at=at, trial_days=trial_days, reason=reason
        )
        instance = claim_for(conn, spec, now=now, actor=actor)
    return replace(tenant, instance_id=instance) if instance is not None else tenant


# --- the workers' claims ------------------------------------------------------------------------


def claim_jobs(
    registry: Registry,
    owner: str,
    *,
    now: datetime,
    limit: int,
    lease_seconds: float,
    program_version: str,
    region_of: Callable[[str], str],
    region_cap: Callable[[str], int | None] = lambda region: None,
) -> list[PoolJob]:
    """Refill, recycle and update pools: up to `limit` jobs for `owner`, within region caps.

    First the decision (in one transaction, under a lock on PostgreSQL): new `building` rows
    for each pool below its target, and `recycling` for ready instances idle too long or beyond
    a lowered target. Then the leases: rows with work to do and a free lease."""
    if limit <= 0:
        return []
    expires = now + timedelta(seconds=lease_seconds)
    with registry.write() as conn:
        postgres = conn.dialect.name == "postgresql"
        if postgres:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:a, :b)"),
                         {"a": _FILL_LOCK[0], "b": _FILL_LOCK[1]})  # fmt: skip
        for target in targets(conn):
            _decide(conn, target, now, region_of(target.location))
        free = sa.or_(p.lease_expires_at.is_(None), p.lease_expires_at <= now)
        due = sa.or_(p.next_attempt_at.is_(None), p.next_attempt_at <= now)  # not backing off
        work = sa.or_(
            p.state.in_((BUILDING, RECYCLING)),
            sa.and_(
                p.state == READY,
                sa.or_(p.program_version.is_(None), p.program_version != program_version),
            ),
        )
        query = sa.select(p.id, p.instance_id, p.location, p.region, p.plan, p.state).where(
            work, free, due
        ).order_by(p.id).limit(limit * 4)  # fmt: skip
        if postgres:
            query = query.with_for_update(skip_locked=True)
        rows = conn.execute(query).all()
        held = _leases_held(conn, now, {r.region for r in rows})
        jobs: list[PoolJob] = []
        for row in rows:
            if len(jobs) >= limit:
                break
            cap = region_cap(row.region)
            if cap is not None and held[row.region] >= cap:
                continue
            won = conn.execute(
                sa.update(pool_instances)
                .where(p.id == row.id, free)
                .values(lease_owner=owner, lease_expires_at=expires, updated_at=now)
            ).rowcount
            if won != 1:
                continue
            held[row.region] += 1
            kind = {BUILDING: "build", RECYCLING: "recycle"}.get(row.state, "update")
            jobs.append(PoolJob(row.instance_id, row.location, row.region, row.plan, kind, owner))
        return jobs


def _decide(conn: sa.Connection, target: PoolTarget, now: datetime, region: str) -> None:
    mine = sa.and_(p.location == target.location, p.plan == target.plan)
    idle_since = now - timedelta(hours=target.max_idle_hours)
    conn.execute(
        sa.update(pool_instances)
        .where(mine, p.state == READY, p.ready_at < idle_since)
        .values(state=RECYCLING, updated_at=now)
    )
    counts: dict[str, int] = {
        state: count
        for state, count in conn.execute(
            sa.select(p.state, sa.func.count())
            .where(mine, p.state.in_((BUILDING, READY)))
            .group_by(p.state)
        )
    }
    have = counts.get(BUILDING, 0) + counts.get(READY, 0)
    if have < target.target:
        last_failure = conn.execute(
            sa.select(sa.func.max(p.finished_at)).where(mine, p.state == FAILED)
        ).scalar_one_or_none()
        hold = (
            last_failure + REPLACEMENT_HOLD
            if last_failure is not None and last_failure + REPLACEMENT_HOLD > now
            else None
        )
        conn.execute(
            sa.insert(pool_instances),
            [
                {
                    "instance_id": new_instance_id(),
                    "location": target.location,
                    "region": region,
                    "plan": target.plan,
                    "state": BUILDING,
                    "created_at": now,
                    "attempts": 0,
                    "updated_at": now,
                    "next_attempt_at": hold,
                }
                for _ in range(target.target - have)
            ],
        )
    elif have > target.target and counts.get(READY, 0):
        # Drained or lowered: the newest ready ones go (the oldest are bound first anyway).
        excess = min(have - target.target, counts.get(READY, 0))
        ids = conn.execute(
            sa.select(p.id)
            .where(mine, p.state == READY, p.lease_owner.is_(None))
            .order_by(p.ready_at.desc(), p.id.desc())
            .limit(excess)
        ).scalars().all()  # fmt: skip
        if ids:
            conn.execute(
                sa.update(pool_instances)
                .where(p.id.in_(ids), p.state == READY)
                .values(state=RECYCLING, updated_at=now)
            )


def _leases_held(conn: sa.Connection, now: datetime, regions: set[str]) -> Counter[str]:
    """Leases held per region, by pool jobs and by tenant reconciles: one cap for both."""
    held: Counter[str] = Counter({r: 0 for r in regions})
    if not regions:
        return held
    for table in (pool_instances, tenants):
        rows = conn.execute(
            sa.select(table.c.region, sa.func.count())
            .where(table.c.lease_expires_at > now, table.c.region.in_(sorted(regions)))
            .group_by(table.c.region)
        )
        for region, count in rows:
            held[region] += count
    return held


def heartbeat(
    registry: Registry,
    owner: str,
    instance_ids: set[str],
    *,
    now: datetime,
    lease_seconds: float,
) -> set[str]:
    """Extend `owner`'s leases on `instance_ids` (as provisioner.registry.leases.heartbeat does
    for tenants); returns those still ours (a lost one was taken over after it expired)."""
    wanted = sorted(instance_ids)
    if not wanted:
        return set()
    ours = sa.and_(p.instance_id.in_(wanted), p.lease_owner == owner)
    with registry.write() as conn:
        conn.execute(
            sa.update(pool_instances)
            .where(ours)
            .values(lease_expires_at=now + timedelta(seconds=lease_seconds))
        )
        return set(conn.execute(sa.select(p.instance_id).where(ours)).scalars())


def finish_job(
    registry: Registry,
    job: PoolJob,
    *,
    now: datetime,
    program_version: str | None = None,
    error: str | None = None,
    max_attempts: int = 5,
    retry_delay: Callable[[int], float] = lambda attempt: 0.0,
) -> bool:
    """Record a job's outcome if our lease still holds (False: taken over, result dropped).

    A failure is tried again `retry_delay(attempts so far)` seconds later (the keeper passes the
    tenants' exponential backoff); a build that failed `max_attempts` times is `failed`."""
    ours = sa.and_(p.instance_id == job.instance_id, p.lease_owner == job.owner)
    release: dict[str, Any] = {"lease_owner": None, "lease_expires_at": None, "updated_at": now}
    settled = {"attempts": 0, "last_error": None, "next_attempt_at": None}
    with registry.write() as conn:
        if error is not None:
            attempts = conn.execute(sa.select(p.attempts).where(ours)).scalar_one_or_none()
            if attempts is None:
                return False
            gave_up = job.kind == "build" and attempts + 1 >= max_attempts
            retry_at = now + timedelta(seconds=retry_delay(attempts + 1))
            values = {**release, "attempts": attempts + 1, "last_error": error[:2000],
                      "next_attempt_at": retry_at}  # fmt: skip
            if gave_up:
                values.update(state=FAILED, finished_at=now, next_attempt_at=None)
            updated = conn.execute(sa.update(pool_instances).where(ours).values(**values))
            return updated.rowcount == 1
        if job.kind == "build":
            values = {**release, **settled, "state": READY, "ready_at": now,
                      "program_version": program_version}  # fmt: skip
        elif job.kind == "update":
            values = {**release, **settled, "program_version": program_version}
        else:
            values = {**release, **settled, "state": RECYCLED, "finished_at": now}
        return conn.execute(sa.update(pool_instances).where(ours).values(**values)).rowcount == 1


# --- reading ------------------------------------------------------------------------------------


def counts(registry: Registry, *, now: datetime | None = None) -> list[PoolCounts]:
    """Per pool (every target, and every location with instances): what it holds now, the builds
    given up in the 24 hours before `now` (when given) and the last error still unsettled."""
    with registry.read() as conn:
        wanted = {(t.location, t.plan): t.target for t in targets(conn)}
        rows = conn.execute(
            sa.select(p.location, p.plan, p.state, sa.func.count(), sa.func.min(p.ready_at))
            .where(p.state.in_((BUILDING, READY, RECYCLING, BOUND)))
            .group_by(p.location, p.plan, p.state)
        ).all()
        failed: dict[tuple[str, str], int] = {}
        if now is not None:
            failed = {
                (location, plan): count
                for location, plan, count in conn.execute(
                    sa.select(p.location, p.plan, sa.func.count())
                    .where(p.state == FAILED, p.finished_at >= now - timedelta(days=1))
                    .group_by(p.location, p.plan)
                )
            }
        # Most recent first: the error of an attempt waiting to be retried, or of a recent
        # give-up (a success clears an instance's error).
        unsettled: sa.ColumnElement[bool] = p.state.in_((BUILDING, READY, RECYCLING))
        if now is not None:
            unsettled = sa.or_(
                unsettled, sa.and_(p.state == FAILED, p.finished_at >= now - timedelta(days=1))
            )
        errors: dict[tuple[str, str], str] = {}
        for location, plan, error in conn.execute(
            sa.select(p.location, p.plan, p.last_error)
            .where(p.last_error.is_not(None), unsettled)
            .order_by(p.updated_at.desc(), p.id.desc())
            .limit(200)
        ):
            errors.setdefault((location, plan), error)
    by_pool: dict[tuple[str, str], dict[str, Any]] = {k: {} for k in wanted}
    oldest: dict[tuple[str, str], datetime | None] = {}
    for location, plan, state, count, first_ready in rows:
        by_pool.setdefault((location, plan), {})[state] = count
        if state == READY:
            oldest[(location, plan)] = first_ready
    for key in failed:
        by_pool.setdefault(key, {})
    return [
        PoolCounts(
            location=location,
            plan=plan,
            target=wanted.get((location, plan), 0),
            ready=states.get(READY, 0),
            building=states.get(BUILDING, 0),
            recycling=states.get(RECYCLING, 0),
            bound=states.get(BOUND, 0),
            oldest_ready_at=oldest.get((location, plan)),
            failed_last_day=failed.get((location, plan), 0),
            last_error=errors.get((location, plan)),
        )
        for (location, plan), states in sorted(by_pool.items())
    ]


def instance_state(registry: Registry, instance_id: str) -> str | None:
    with registry.read() as conn:
        return conn.execute(
            sa.select(p.state).where(p.instance_id == instance_id)
        ).scalar_one_or_none()


@dataclass(frozen=True)
class Observed:
    """What a pool's sizing reads from history: signups and pooled builds over a window."""

    signups: int
    hours: float
    builds: int
    mean_build_minutes: float | None  # None: no pooled build finished in the window


def observed(
    registry: Registry, location: str, plan: str, *, now: datetime, days: float = 7.0
) -> Observed:
    since = now - timedelta(days=days)
    with registry.read() as conn:
        signups = conn.execute(
            sa.select(sa.func.count()).where(
                tenants.c.location == location,
                tenants.c.plan == plan,
                tenants.c.created_at >= since,
            )
        ).scalar_one()
        builds = conn.execute(
            sa.select(p.created_at, p.ready_at).where(
                p.location == location, p.plan == plan, p.ready_at >= since
            )
        ).all()
    minutes = [(b.ready_at - b.created_at).total_seconds() / 60 for b in builds]
    mean = sum(minutes) / len(minutes) if minutes else None
    return Observed(int(signups), days * 24, len(minutes), mean)
