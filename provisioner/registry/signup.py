"""Idempotent signups: a tenant, its signup details and its `Idempotency-Key`, in one transaction.

The key's row is inserted first with ON CONFLICT (taking over only an expired row), so of many
concurrent requests with one key exactly one goes on to create the tenant (PostgreSQL makes the
others wait for its commit; SQLite's BEGIN IMMEDIATE admits one writer at a time); the others
replay the stored answer, or are refused when their body differs. Two keys racing for one slug
meet at the slug's unique constraint: the loser's transaction is rolled back whole and retried,
and then sees the tenant.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from provisioner.errors import IdempotencyKeyReused, TenantExists
from provisioner.registry.bound import bound
from provisioner.registry.facade import Registry
from provisioner.registry.pools import claim_for
from provisioner.registry.records import Tenant
from provisioner.registry.work_models import idempotency_keys, signups

if TYPE_CHECKING:
    from provisioner.spec import TenantSpec

_RACE_RETRIES = 5  # a lost race on the slug's unique index is retried; the retry sees the winner
# Built once, executed with parameters (see core._LOCK_TENANT for why).
_INSERT_SIGNUP = sa.insert(signups)
_ANSWER_KEY = (
    sa.update(idempotency_keys)
    .where(
        idempotency_keys.c.caller == sa.bindparam("answered_caller"),
        idempotency_keys.c.key == sa.bindparam("answered_key"),
    )
    .values(
        status_code=sa.bindparam("answer_status", type_=idempotency_keys.c.status_code.type),
        response=sa.bindparam("answer_body", type_=idempotency_keys.c.response.type),
    )
)

_TAKE_KEY: dict[str, Any] = {}


def _take_key(dialect: str) -> Any:
    """`INSERT` the key's row, or take over an expired one (its answer is stale: a key is
    forgotten here, not only by the purge job), in one statement built once per dialect:
    `ON CONFLICT (caller, key) DO UPDATE ... WHERE created_at <= :expired_before RETURNING`. A
    row back means the key is this request's; none, that a live key holds another request's.
    (It was a DELETE of the expired row and an INSERT ... DO NOTHING: one round trip more on
    every keyed signup.) On PostgreSQL a concurrent insert of the same key waits for the first
    to commit, then sees it live and returns nothing, as DO NOTHING did."""
    stmt = _TAKE_KEY.get(dialect)
    if stmt is None:
        from sqlalchemy.dialects import postgresql, sqlite

        insert: Any = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(
            idempotency_keys
        )
        k = idempotency_keys.c
        stmt = insert.on_conflict_do_update(
            index_elements=[k.caller, k.key],
            set_={
                name: insert.excluded[name]
                for name in ("request_hash", "slug", "status_code", "response", "created_at")
            },
            where=k.created_at <= sa.bindparam("expired_before", type_=k.created_at.type),
        ).returning(k.caller)
        _TAKE_KEY[dialect] = stmt
    return stmt


DEFAULT_KEY_TTL = timedelta(hours=24)  # a key is replayed for this long, then forgotten


@dataclass(frozen=True)
class SignupAnswer:
    """The answer to a signup: an HTTP-like status and a JSON body, stored with the key."""

    status_code: int  # 202 accepted, 409 the slug is taken
    body: dict[str, Any]
    replayed: bool  # True: the stored answer of an earlier request with the same key


def signup(
    registry: Registry,
    spec: TenantSpec,
    admin_email: str,
    *,
    actor: str,
    key: str | None,
    request_hash: str,
    render: Callable[[Tenant], dict[str, Any]],
    conflict: Callable[[TenantExists], dict[str, Any]],
    key_ttl: timedelta = DEFAULT_KEY_TTL,
) -> SignupAnswer:
    """Create the tenant for `spec` once per key of this caller (`actor`); `render` / `conflict`
    build the answer. A key older than `key_ttl` is forgotten: the request is a new one."""
    for _ in range(_RACE_RETRIES):
        try:
            return _signup_once(
                registry, spec, admin_email, actor, key, request_hash, render, conflict, key_ttl
            )
        except sa.exc.IntegrityError:
            continue  # another transaction created the slug first; the next pass sees it
    raise TenantExists(
        f"tenant {spec.slug!r} is being created by another request: retry", tenant=spec.slug
    )


def _signup_once(
    registry: Registry,
    spec: TenantSpec,
    admin_email: str,
    actor: str,
    key: str | None,
    request_hash: str,
    render: Callable[[Tenant], dict[str, Any]],
    conflict: Callable[[TenantExists], dict[str, Any]],
    key_ttl: timedelta,
) -> SignupAnswer:
    now = registry._clock()
    with registry.write() as conn:
        if key is not None:
            mine = (idempotency_keys.c.caller == actor, idempotency_keys.c.key == key)
            fresh = (
                conn.execute(
                    _take_key(conn.dialect.name),
                    {
                        "caller": actor,
                        "key": key,
                        "request_hash": request_hash,
                        "slug": spec.slug,
                        "status_code": 0,
                        "response": {},
                        "created_at": now,
                        "expired_before": now - key_ttl,
                    },
                ).first()
                is not None
            )
            if not fresh:
                seen = conn.execute(sa.select(idempotency_keys).where(*mine)).one()
                if seen.request_hash != request_hash:
                    raise IdempotencyKeyReused(
                        "this Idempotency-Key was used with another request body: send a new"
                        " key for a new request, or the original body to get its answer again",
                        key=key,
                        tenant=seen.slug,
                    )
                return SignupAnswer(seen.status_code, dict(seen.response), replayed=True)
        try:
            tenant = bound(registry, conn).create_tenant(spec, actor=actor, at=now, reason="signup")
        except TenantExists as exc:
            status, body = 409, conflict(exc)
        else:
            # A ready pooled instance, if its pool has one, bound in this same transaction.
            instance = claim_for(conn, spec, now=now, actor=actor)
            if instance is not None:
                tenant = replace(tenant, instance_id=instance)
            conn.execute(
                _INSERT_SIGNUP,
                {
                    "slug": spec.slug,
                    "admin_email": admin_email,
                    "idempotency_key": key,
                    "actor": actor,
                    "created_at": now,
                },
            )
            status, body = 202, render(tenant)
        if key is not None:
            conn.execute(
                _ANSWER_KEY,
                {
                    "answered_caller": actor,
                    "answered_key": key,
                    "answer_status": status,
                    "answer_body": body,
                },
            )
        return SignupAnswer(status, body, replayed=False)


def admin_email(registry: Registry, slug: str) -> str | None:
    with registry.read() as conn:
        return conn.execute(
            sa.select(signups.c.admin_email).where(signups.c.slug == slug)
        ).scalar_one_or_none()


def purge_idempotency_keys(
    registry: Registry, *, before: datetime, batch: int = 1000, max_batches: int | None = None
) -> int:
    """Delete keys created before `before`, `batch` rows per short transaction (never one long
    lock over a big table); returns how many went. `max_batches` bounds one run."""
    k = idempotency_keys.c
    removed, batches = 0, 0
    while max_batches is None or batches < max_batches:
        with registry.write() as conn:
            rows = conn.execute(
                sa.select(k.caller, k.key).where(k.created_at < before).limit(batch)
            ).all()
            if rows:
                conn.execute(
                    sa.delete(idempotency_keys).where(
                        sa.tuple_(k.caller, k.key).in_([(r.caller, r.key) for r in rows])
                    )
                )
        removed += len(rows)
        batches += 1
        if len(rows) < batch:
            break
    return removed
