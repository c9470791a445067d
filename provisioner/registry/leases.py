"""Worker leases on tenants: claim and heartbeat. The workers' side of the registry
(provisioner.worker drives it; the policy of what to do lives in provisioner.reconcile; reporting
an attempt's outcome (complete, fail, retry) lives in provisioner.registry.outcomes).

A tenant needs work while what it is (observed state, generation, program version, plan) differs
from what it should be. A claim sets `lease_owner` and `lease_expires_at` on tenants that need
work, are due (`next_attempt_at`) and whose lease is free or expired, and counts the attempt
(before the work, so a worker that dies mid-operation still used one up). How a claim is atomic:

- PostgreSQL: `SELECT ... FOR UPDATE SKIP LOCKED` picks rows no other claimer is looking at; a
  per-region advisory lock (`pg_try_advisory_xact_lock`) makes the per-region cap exact.
- SQLite: the write transaction is `BEGIN IMMEDIATE` (one writer at a time) and each row is taken
  with a conditional UPDATE (`... WHERE lease free`), whose row count says whether it was won.

Reporting the outcome (provisioner.registry.outcomes) checks the lease is still ours: if another
worker took the tenant over after our lease expired, our late result is dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from provisioner.lifecycle import ACTIVE, FAILED
from provisioner.registry.bound import bound
from provisioner.registry.facade import Registry
from provisioner.registry.models import UNSETTLED, tenant_events, tenants

_REGION_LOCK_SPACE = 6_000_006  # first key of pg_try_advisory_xact_lock(int, int) for regions
_CANDIDATE_FACTOR = 4  # rows looked at per claimed row (some are skipped by region caps)

c = tenants.c


@dataclass(frozen=True)
class Claim:
    """A tenant a worker holds: the values it reconciles towards, read when it was claimed."""

    slug: str
    location: str
    region: str
    plan: str
    desired_state: str
    generation: int
    observed_state: str | None
    observed_generation: int | None
    program_version: str | None
    observed_plan: str | None
    attempt: int  # 1 for the first attempt at this generation
    owner: str
    # The release the stack was last built from and the one a rollout wants (issue 15); with a
    # target set, the worker applies that release instead of its own program.
    release_id: int | None = None
    target_release_id: int | None = None
    instance_id: str | None = None  # the pooled instance it was bound to (None: its slug)
    legacy_backup: bool = False  # the stack keeps its pre-backup-account copy


def _program_drift(program_version: str) -> sa.ColumnElement[bool]:
    """Built from another program than wanted: the worker's own, or (once a rollout targeted
    the tenant) its target release. Only rollouts move release-managed tenants."""
    return sa.or_(
        sa.and_(
            c.target_release_id.is_(None),
            sa.or_(c.program_version.is_(None), c.program_version != program_version),
        ),
        sa.and_(
            c.target_release_id.is_not(None),
            sa.or_(c.release_id.is_(None), c.release_id != c.target_release_id),
        ),
    )


def _drifted(program_version: str) -> sa.ColumnElement[bool]:
    """Active tenants built by another program version or for another plan."""
    return sa.and_(
        c.desired_state == ACTIVE,
        sa.or_(
            _program_drift(program_version),
            c.observed_plan.is_(None),
            c.observed_plan != c.plan,
        ),
    )


def _fresh() -> sa.ColumnElement[bool]:
    """The attempts counted so far were for another generation (or none were made)."""
    return sa.or_(c.attempt_generation.is_(None), c.attempt_generation != c.generation)


def _lease_free(now: datetime) -> sa.ColumnElement[bool]:
    return sa.or_(c.lease_expires_at.is_(None), c.lease_expires_at <= now)


def _ready(now: datetime) -> sa.ColumnElement[bool]:
    """Lease free, attempt due, and not given up on at this generation."""
    return sa.and_(
        _lease_free(now),
        sa.or_(c.next_attempt_at.is_(None), c.next_attempt_at <= now),
        # Given up: failed, this generation's attempts spent, and no retry scheduled. After
        # `tenants retry` the failed state stays until an attempt succeeds, so a scheduled
        # next attempt is what keeps such a tenant in play.
        sa.or_(_fresh(), c.observed_state.is_distinct_from(FAILED), c.next_attempt_at.is_not(None)),
    )


def claim(
    registry: Registry,
    owner: str,
    *,
    now: datetime,
    limit: int,
    lease_seconds: float,
    max_attempts: int,
    program_version: str,
    region_cap: Callable[[str], int | None] = lambda region: None,
) -> list[Claim]:
    """Claim up to `limit` tenants that need work, honouring per-region caps on leases held.

    A tenant whose attempts at its generation are used up, and whose last worker never reported
    back (killed), is marked failed here instead of being claimed again.
    """
    if limit <= 0:
        return []
    expires = now + timedelta(seconds=lease_seconds)
    columns = [
        c.id,
        c.slug,
        c.location,
        c.region,
        c.plan,
        c.desired_state,
        c.generation,
        c.observed_state,
        c.observed_generation,
        c.program_version,
        c.observed_plan,
        c.attempts,
        c.attempt_generation,
        c.lease_owner,  # set on a free row: the lease of a worker that never reported expired
        c.version,
        c.release_id,
        c.target_release_id,
        c.instance_id,
        c.legacy_backup,
    ]
    wanted = limit * _CANDIDATE_FACTOR
    # Two queries: the unsettled tenants through their partial index, then (only if that left
    # room) active tenants on an older program or plan, which needs a scan.
    unsettled = sa.select(*columns).where(sa.text(UNSETTLED), _ready(now)).order_by(c.id)
    drifted = sa.select(*columns).where(_drifted(program_version), _ready(now)).order_by(c.id)
    with registry.write() as conn:
        postgres = conn.dialect.name == "postgresql"
        rows: list[Any] = []
        for query in (unsettled, drifted):
            room = wanted - len(rows)
            if room <= 0:
                break
            query = query.limit(room)
            if rows:
                query = query.where(c.id.not_in([r.id for r in rows]))
            if postgres:
                query = query.with_for_update(skip_locked=True)
            rows.extend(conn.execute(query).all())
        if not rows:
            return []
        _lease_expired(conn, [r for r in rows if r.lease_owner is not None], now)
        exhausted = [r for r in rows if _is_fresh(r) is False and r.attempts >= max_attempts]
        for row in exhausted:
            _give_up_unreported(registry, conn, row, now, max_attempts)
        rows = [r for r in rows if r not in exhausted]
        capped = {r.region for r in rows if region_cap(r.region) is not None}
        held = _leases_by_region(conn, now, capped)  # only regions with a cap need counting
        locked: dict[str, bool] = {}
        claims: list[Claim] = []
        for row in rows:
            if len(claims) >= limit:
                break
            cap = region_cap(row.region)
            if cap is not None:
                if postgres and row.region not in locked:
                    locked[row.region] = _try_region_lock(conn, row.region)
                    if locked[row.region]:  # counted again under the lock: exact
                        held[row.region] = _leases_by_region(conn, now, {row.region})[row.region]
                if postgres and not locked[row.region]:
                    continue
                if held[row.region] >= cap:
                    continue
            held[row.region] += 1
            claims.append(_to_claim(row, 1 if _is_fresh(row) else row.attempts + 1, owner))
        claims = _take(conn, claims, {r.slug: r.id for r in rows}, now, expires)
        if claims:
            conn.execute(
                sa.insert(tenant_events),
                [
                    {
                        "tenant_id": next(r.id for r in rows if r.slug == cl.slug),
                        "slug": cl.slug,
                        "kind": "reconcile.started",
                        "at": now,
                        "recorded_at": now,
                        "actor": f"worker:{owner}",
                        "reason": "",
                        "data": {
                            "attempt": cl.attempt,
                            "desired_state": cl.desired_state,
                            "generation": cl.generation,
                        },
                    }
                    for cl in claims
                ],
            )
        return claims


def _take(
    conn: sa.Connection,
    claims: list[Claim],
    ids: dict[str, int],
    now: datetime,
    expires: datetime,
) -> list[Claim]:
    """Set the leases of `claims` in one conditional UPDATE; returns the claims it won.

    The condition (lease free) is what makes a SQLite claim atomic; on PostgreSQL the rows are
    already locked by FOR UPDATE. Either way all are won unless something is badly wrong, which
    the re-read below would show rather than hide.
    """
    if not claims:
        return []
    owner = claims[0].owner
    wanted = [ids[cl.slug] for cl in claims]
    won = conn.execute(
        sa.update(tenants)
        .where(c.id.in_(wanted), _lease_free(now))
        .values(
            lease_owner=owner,
            lease_expires_at=expires,
            heartbeat_at=now,
            attempts=sa.case((_fresh(), 1), else_=c.attempts + 1),
            attempt_generation=c.generation,
            version=c.version + 1,
            updated_at=now,
        )
    ).rowcount
    if won == len(wanted):
        return claims
    mine = set(
        conn.execute(
            sa.select(c.slug).where(
                c.id.in_(wanted), c.lease_owner == owner, c.lease_expires_at == expires
            )
        ).scalars()
    )
    return [cl for cl in claims if cl.slug in mine]


def _is_fresh(row: Any) -> bool:
    return row.attempt_generation is None or row.attempt_generation != row.generation


def _to_claim(row: Any, attempt: int, owner: str) -> Claim:
    return Claim(
        slug=row.slug,
        location=row.location,
        region=row.region,
        plan=row.plan,
        desired_state=row.desired_state,
        generation=row.generation,
        observed_state=row.observed_state,
        observed_generation=row.observed_generation,
        program_version=row.program_version,
        observed_plan=row.observed_plan,
        attempt=attempt,
        owner=owner,
        release_id=row.release_id,
        target_release_id=row.target_release_id,
        instance_id=row.instance_id,
        legacy_backup=bool(row.legacy_backup),
    )


def _leases_by_region(conn: sa.Connection, now: datetime, regions: Iterable[str]) -> Any:
    from collections import Counter

    wanted = sorted(set(regions))
    counts: Counter[str] = Counter({r: 0 for r in wanted})
    if not wanted:
        return counts
    rows = conn.execute(
        sa.select(c.region, sa.func.count())
        .where(c.lease_owner.is_not(None), c.lease_expires_at > now, c.region.in_(wanted))
        .group_by(c.region)
    )
    for region, count in rows:
        counts[region] = count
    return counts


def _try_region_lock(conn: sa.Connection, region: str) -> bool:
    return bool(
        conn.execute(
            sa.text("SELECT pg_try_advisory_xact_lock(:space, hashtext(:region))"),
            {"space": _REGION_LOCK_SPACE, "region": region},
        ).scalar()
    )


def _give_up_unreported(
    registry: Registry, conn: sa.Connection, row: Any, now: datetime, max_attempts: int
) -> None:
    reason = (
        f"gave up after {max_attempts} attempts; the last one never reported back (its worker"
        " stopped mid-operation): check the worker's log, then `provisioner tenants retry"
        f" {row.slug}`"
    )
    bound(registry, conn).set_observed_state(row.slug, FAILED, actor="worker", at=now, error=reason)
    _release(conn, row.slug, now, next_attempt_at=None, last_error=reason)


def _lease_expired(conn: sa.Connection, rows: list[Any], now: datetime) -> None:
    """One event per lease that ran out without a report (a worker killed mid-operation), so the
    audit trail says where the attempt went before the tenant is claimed again or given up."""
    if not rows:
        return
    conn.execute(
        sa.insert(tenant_events),
        [
            {
                "tenant_id": row.id,
                "slug": row.slug,
                "kind": "reconcile.lease-expired",
                "at": now,
                "recorded_at": now,
                "actor": "worker",
                "reason": f"worker {row.lease_owner} stopped reporting; its attempt is lost",
                "data": {"owner": row.lease_owner, "attempt": row.attempts},
            }
            for row in rows
        ],
    )


def heartbeat(
    registry: Registry, owner: str, slugs: Iterable[str], *, now: datetime, lease_seconds: float
) -> set[str]:
    """Extend our leases on `slugs`; returns those still ours (a lost one was taken over)."""
    wanted = sorted(set(slugs))
    if not wanted:
        return set()
    with registry.write() as conn:
        conn.execute(
            sa.update(tenants)
            .where(c.slug.in_(wanted), c.lease_owner == owner)
            .values(lease_expires_at=now + timedelta(seconds=lease_seconds), heartbeat_at=now)
        )
        return set(
            conn.execute(
                sa.select(c.slug).where(c.slug.in_(wanted), c.lease_owner == owner)
            ).scalars()
        )


def _release(conn: sa.Connection, slug: str, now: datetime, **values: Any) -> None:
    conn.execute(
        sa.update(tenants)
        .where(c.slug == slug)
        .values(
            lease_owner=None,
            lease_expires_at=None,
            version=c.version + 1,
            updated_at=now,
            **values,
        )
    )
