"""The webhook delivery log: one row per notification, per tenant, with every attempt.

Deliveries are enqueued in the transaction that records the state change they announce (so a
change is never lost nor announced twice), then claimed with a lease by a worker's dispatcher,
like tenants (provisioner.webhooks sends them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from provisioner.registry.facade import Registry
from provisioner.registry.work_models import webhook_deliveries

w = webhook_deliveries.c
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


@dataclass(frozen=True)
class Delivery:
    id: int
    slug: str
    event: str
    url: str
    payload: dict[str, Any]
    attempts: int  # attempts made before this one


def enqueue(
    conn: sa.Connection, *, slug: str, event: str, url: str, payload: dict[str, Any], now: datetime
) -> int:
    """Add a delivery inside the caller's transaction; returns its id."""
    result = conn.execute(
        sa.insert(webhook_deliveries).values(
            slug=slug,
            event=event,
            url=url,
            payload=payload,
            status=PENDING,
            attempts=0,
            next_attempt_at=now,
            log=[],
            created_at=now,
        )
    )
    assert result.inserted_primary_key is not None
    return int(result.inserted_primary_key[0])


def claim_due(
    registry: Registry,
    owner: str,
    *,
    now: datetime,
    limit: int,
    lease_seconds: float,
    url: str | None = None,
) -> list[Delivery]:
    """Lease up to `limit` pending deliveries that are due (only those to `url`, if given): at
    most one per tenant, its oldest pending one, so a tenant's notifications arrive in the order
    they happened (a later one waits while an earlier one backs off) and the batch can be sent
    concurrently."""
    free = sa.or_(w.lease_expires_at.is_(None), w.lease_expires_at <= now)
    earlier = webhook_deliveries.alias("earlier")
    # Order is kept per tenant and endpoint: a notice pending to another endpoint (the mail
    # service) never holds back this one's.
    first_pending = ~sa.exists().where(
        earlier.c.slug == w.slug,
        earlier.c.url == w.url,
        earlier.c.status == PENDING,
        earlier.c.id < w.id,
    )
    query = (
        sa.select(w.id, w.slug, w.event, w.url, w.payload, w.attempts)
        .where(w.status == PENDING, w.next_attempt_at <= now, free, first_pending)
        .order_by(w.next_attempt_at, w.id)
        .limit(limit)
    )
    if url is not None:
        query = query.where(w.url == url)
    with registry.write() as conn:
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        claimed: list[Delivery] = []
        for row in conn.execute(query).all():
            won = conn.execute(
                sa.update(webhook_deliveries)
                .where(w.id == row.id, free)
                .values(lease_owner=owner, lease_expires_at=now + timedelta(seconds=lease_seconds))
            ).rowcount
            if won == 1:
                claimed.append(
                    Delivery(row.id, row.slug, row.event, row.url, dict(row.payload), row.attempts)
                )
        return claimed


def record_attempt(
    registry: Registry,
    delivery: Delivery,
    *,
    now: datetime,
    status_code: int | None,
    error: str | None,
    elapsed_ms: float,
    delivered: bool,
    retry_at: datetime | None,
) -> str:
    """Log one attempt; the delivery becomes delivered, stays pending (retry_at) or failed."""
    status = DELIVERED if delivered else (PENDING if retry_at is not None else FAILED)
    with registry.write() as conn:
        log = conn.execute(sa.select(w.log).where(w.id == delivery.id)).scalar_one() or []
        entry = {
            "at": _iso(now),
            "status_code": status_code,
            "error": error,
            "ms": round(elapsed_ms, 1),
        }
        conn.execute(
            sa.update(webhook_deliveries)
            .where(w.id == delivery.id)
            .values(
                status=status,
                attempts=delivery.attempts + 1,
                next_attempt_at=retry_at,
                lease_owner=None,
                lease_expires_at=None,
                last_status_code=status_code,
                last_error=error,
                log=[*log, entry],
                delivered_at=now if delivered else None,
            )
        )
    return status


def deliveries(registry: Registry, slug: str) -> list[dict[str, Any]]:
    """The tenant's delivery log, oldest first."""
    with registry.read() as conn:
        rows = conn.execute(
            sa.select(webhook_deliveries).where(w.slug == slug).order_by(w.id)
        ).all()
    out = []
    for row in rows:
        out.append(
            {
                "id": row.id,
                "event": row.event,
                "url": row.url,
                "status": row.status,
                "attempts": row.attempts,
                "next_attempt_at": _iso(row.next_attempt_at),
                "last_status_code": row.last_status_code,
                "last_error": row.last_error,
                "created_at": _iso(row.created_at),
                "delivered_at": _iso(row.delivered_at),
                "log": list(row.log or []),
            }
        )
    return out


def status_counts(registry: Registry) -> dict[str, int]:
    """How many deliveries are in each status (pending, delivered, failed)."""
    with registry.read() as conn:
        rows = conn.execute(sa.select(w.status, sa.func.count()).group_by(w.status))
        return {status: count for status, count in rows}


def _iso(value: datetime | None) -> str | None:
    from provisioner.retention import iso

    return iso(value) if value is not None else None
