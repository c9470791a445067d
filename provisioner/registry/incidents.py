"""Incidents in the registry: the incident rows, the hash-chained timeline, deletion holds, and
the notice contact kept for deleted tenants.

Every change appends to the incident's timeline in the transaction that makes it, under a lock
on the incident's row, so the chain never forks (a unique (incident, seq) index guards it too).
The timeline is append-only in the database itself (triggers, migration 0007). Holds are rows
the retention sweep reads (`held_slugs`): a held tenant's deletion is not applied while the
incident is open. The affected set is computed from the registry's history when the incident is
opened and stored in its first entry, so it is covered by the chain.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from provisioner.errors import IllegalTransition, IncidentNotFound, UsageError
from provisioner.incidents import affected as affected_mod
from provisioner.incidents import timeline as tl
from provisioner.incidents.chain import GENESIS, Entry, entry_hash
from provisioner.regions import Catalogue
from provisioner.registry.bound import bound
from provisioner.registry.core import _aware
from provisioner.registry.facade import Registry
from provisioner.registry.models import (
    incident_entries,
    incident_holds,
    incidents,
    notice_contacts,
    tenants,
)
from provisioner.registry.work_models import signups, webhook_deliveries
from provisioner.retention import iso

OPEN, CLOSED = "open", "closed"
KINDS = ("breach", "outage", "other")
i, e, h = incidents.c, incident_entries.c, incident_holds.c


@dataclass(frozen=True)
class Incident:
    id: int
    title: str
    kind: str
    status: str
    discovered_at: datetime
    window_start: datetime | None
    window_end: datetime
    regions: tuple[str, ...]
    listed: tuple[str, ...]
    hold: bool
    opened_at: datetime
    opened_by: str
    closed_at: datetime | None
    root_cause: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "kind": self.kind,
            "status": self.status,
            "discovered_at": iso(self.discovered_at),
            "window_start": iso(self.window_start) if self.window_start else None,
            "window_end": iso(self.window_end),
            "regions": list(self.regions),
            "tenants": list(self.listed),
            "hold": self.hold,
            "opened_at": iso(self.opened_at),
            "opened_by": self.opened_by,
            "closed_at": iso(self.closed_at) if self.closed_at else None,
            "root_cause": self.root_cause,
        }


@dataclass(frozen=True)
class NewIncident:
    """What `incident open` asks for (validated by the caller)."""

    title: str
    kind: str
    discovered_at: datetime
    regions: tuple[str, ...]
    listed: tuple[str, ...]
    window_start: datetime | None
    window_end: datetime
    hold: bool


def _incident(row: Any) -> Incident:
    return Incident(
        id=row.id, title=row.title, kind=row.kind, status=row.status,
        discovered_at=row.discovered_at, window_start=row.window_start,
        window_end=row.window_end, regions=tuple(row.regions), listed=tuple(row.listed),
        hold=bool(row.hold), opened_at=row.opened_at, opened_by=row.opened_by,
        closed_at=row.closed_at, root_cause=row.root_cause,
    )  # fmt: skip


def _entry(row: Any) -> Entry:
    return Entry(
        seq=row.seq, kind=row.kind, at=row.at, recorded_at=row.recorded_at, actor=row.actor,
        text=row.text, data=dict(row.data or {}), prev_hash=row.prev_hash, hash=row.hash,
    )  # fmt: skip


def histories(conn: sa.Connection) -> list[affected_mod.TenantHistory]:
    """Every tenant the registry has known, tombstones included, with its creation and deletion."""
    rows = conn.execute(
        sa.select(
            tenants.c.slug, tenants.c.location, tenants.c.region, tenants.c.plan,
            tenants.c.created_at, tenants.c.deleted_at,
        )
    )  # fmt: skip
    return [affected_mod.TenantHistory(*row) for row in rows]


def _lock_incident(conn: sa.Connection, incident_id: int) -> Any:
    row = conn.execute(
        sa.select(incidents).where(i.id == incident_id).with_for_update()
    ).one_or_none()
    if row is None:
        raise _not_found(incident_id)
    return row


def _not_found(incident_id: int) -> IncidentNotFound:
    return IncidentNotFound(f"no incident {incident_id}: `provisioner incident list` shows them")


def _append(
    registry: Registry, conn: sa.Connection, incident_id: int, kind: str, *, at: datetime,
    actor: str, text: str = "", data: dict[str, Any] | None = None,
) -> Entry:  # fmt: skip
    """Append one entry to the chain (the caller holds the incident's row lock)."""
    last = conn.execute(
        sa.select(e.seq, e.hash)
        .where(e.incident_id == incident_id)
        .order_by(e.seq.desc())
        .limit(1)
    ).one_or_none()
    seq, prev = (last.seq + 1, last.hash) if last else (1, GENESIS)
    recorded = registry._clock()
    body = dict(data or {})
    digest = entry_hash(incident_id, seq, kind, at, recorded, actor, text, body, prev)
    conn.execute(
        sa.insert(incident_entries).values(
            incident_id=incident_id, seq=seq, kind=kind, at=at, recorded_at=recorded,
            actor=actor, text=text, data=body, prev_hash=prev, hash=digest,
        )
    )  # fmt: skip
    # What was stored is what is hashed: a JSON round trip must not change the data.
    return Entry(seq, kind, at, recorded, actor, text, body, prev, digest)


def open_incident(
    registry: Registry, new: NewIncident, catalogue: Catalogue, *, actor: str,
    at: datetime | None = None,
) -> tuple[Incident, list[affected_mod.Affected]]:  # fmt: skip
    """Record the incident, compute its affected tenants from the registry's history, and (with
    `hold`) pause their scheduled deletions; one transaction."""
    when = _aware(at) if at else registry._clock()
    # A discovery after the opening instant is a typo (a year, a month): its clocks would start
    # in the future and every deadline would look comfortably far away.
    if _aware(new.discovered_at) > when:
        raise UsageError(
            f"--discovered-at {iso(new.discovered_at)} is after the incident is opened"
            f" ({iso(when)}): give the instant the breach was discovered"
        )
    with registry.write() as conn:
        history = histories(conn)
        unknown = sorted(set(new.listed) - {row.slug for row in history})
        if unknown:
            raise UsageError(f"no tenant {', '.join(map(repr, unknown))} in the registry")
        window = affected_mod.Window(new.window_start, new.window_end)
        found = affected_mod.affected(history, catalogue, new.regions, window, new.listed)
        result = conn.execute(
            sa.insert(incidents).values(
                title=new.title, kind=new.kind, status=OPEN, discovered_at=new.discovered_at,
                window_start=new.window_start, window_end=new.window_end,
                regions=list(new.regions), listed=list(new.listed), hold=new.hold,
                opened_at=when, opened_by=actor,
            )
        )  # fmt: skip
        assert result.inserted_primary_key is not None
        incident_id = int(result.inserted_primary_key[0])
        row = _lock_incident(conn, incident_id)
        _append(
            registry, conn, incident_id, tl.OPENED, at=when, actor=actor, text=new.title,
            data={
                **_incident(row).to_dict(),
                "affected": [a.to_dict() for a in found],
            },
        )  # fmt: skip
        if new.hold:
            live = [a.tenant for a in found if a.deleted_at is None]
            for slug in live:
                _hold(registry, conn, incident_id, slug, when, actor)
        return _incident(row), found


def _hold(
    registry: Registry, conn: sa.Connection, incident_id: int, slug: str, when: datetime,
    actor: str,
) -> None:  # fmt: skip
    conn.execute(
        sa.insert(incident_holds).values(
            incident_id=incident_id, slug=slug, held_at=when, released_at=None
        )
    )
    reason = f"{slug}: scheduled deletion paused while incident {incident_id} is open"
    _record_both(registry, conn, incident_id, slug, tl.HOLD, when, actor, reason)


def _record_both(
    registry: Registry, conn: sa.Connection, incident_id: int, slug: str, kind: str,
    when: datetime, actor: str, reason: str,
) -> None:  # fmt: skip
    """A hold or a release: an event in the tenant's audit trail and an entry on the timeline."""
    bound(registry, conn).record_event(
        slug, f"incident.{kind}", actor=actor, reason=reason, at=when,
        data={"incident": incident_id},
    )  # fmt: skip
    _append(
        registry, conn, incident_id, kind, at=when, actor=actor, text=reason,
        data={"tenant": slug},
    )  # fmt: skip


def get_incident(registry: Registry, incident_id: int) -> Incident:
    with registry.read() as conn:
        row = conn.execute(sa.select(incidents).where(i.id == incident_id)).one_or_none()
    if row is None:
        raise _not_found(incident_id)
    return _incident(row)


def list_incidents(registry: Registry, status: str | None = None) -> list[Incident]:
    query = sa.select(incidents).order_by(i.id)
    if status is not None:
        if status not in (OPEN, CLOSED):
            raise UsageError(f"unknown status {status!r}: use open or closed")
        query = query.where(i.status == status)
    with registry.read() as conn:
        return [_incident(row) for row in conn.execute(query)]


def entries(registry: Registry, incident_id: int) -> list[Entry]:
    """The timeline, oldest first."""
    get_incident(registry, incident_id)
    with registry.read() as conn:
        rows = conn.execute(
            sa.select(incident_entries).where(e.incident_id == incident_id).order_by(e.seq)
        )
        return [_entry(row) for row in rows]


def append(
    registry: Registry, incident_id: int, kind: str, *, actor: str, at: datetime | None = None,
    text: str = "", data: dict[str, Any] | None = None,
) -> Entry:  # fmt: skip
    """Append an entry to an open incident's timeline (a closed incident's is final)."""
    when = _aware(at) if at else registry._clock()
    with registry.write() as conn:
        row = _lock_incident(conn, incident_id)
        if row.status == CLOSED:
            raise IllegalTransition(
                f"incident {incident_id} is closed: its timeline is final"
            )
        return _append(
            registry, conn, incident_id, kind, at=when, actor=actor, text=text, data=data
        )


def close_incident(
    registry: Registry, incident_id: int, root_cause: str, *, actor: str,
    at: datetime | None = None,
) -> Incident:  # fmt: skip
    """Close with the root cause; every hold is released (an event each)."""
    if not root_cause.strip():
        raise UsageError("--root-cause must say what caused the incident")
    when = _aware(at) if at else registry._clock()
    with registry.write() as conn:
        row = _lock_incident(conn, incident_id)
        if row.status == CLOSED:
            raise IllegalTransition(f"incident {incident_id} is already closed")
        held = conn.execute(
            sa.select(h.id, h.slug)
            .where(h.incident_id == incident_id, h.released_at.is_(None))
            .order_by(h.slug)
        ).all()
        for hold_id, slug in held:
            conn.execute(
                sa.update(incident_holds).where(h.id == hold_id).values(released_at=when)
            )
            reason = f"{slug}: incident {incident_id} closed, scheduled deletion resumes"
            _record_both(registry, conn, incident_id, slug, tl.RELEASE, when, actor, reason)
        _append(registry, conn, incident_id, tl.CLOSED, at=when, actor=actor, text=root_cause)
        conn.execute(
            sa.update(incidents)
            .where(i.id == incident_id)
            .values(status=CLOSED, closed_at=when, root_cause=root_cause)
        )
        return _incident(conn.execute(sa.select(incidents).where(i.id == incident_id)).one())


# --- the hook the retention sweep uses ------------------------------------------------------


def held_slugs(conn: sa.Connection) -> dict[str, int]:
    """Tenants whose scheduled deletion an open incident pauses -> the (lowest) incident id."""
    rows = conn.execute(
        sa.select(h.slug, sa.func.min(h.incident_id))
        .where(h.released_at.is_(None))
        .group_by(h.slug)
    )
    return {slug: int(incident_id) for slug, incident_id in rows}


# --- the contact a deleted tenant's breach notice goes to -----------------------------------


def keep_notice_contact(conn: sa.Connection, slug: str, now: datetime, keep_days: int) -> None:
    """At a tenant's deletion: its admin e-mail leaves `signups` (tenant data goes with the
    rest) and is kept in `notice_contacts` for `keep_days`, for breach notices only."""
    email = conn.execute(
        sa.select(signups.c.admin_email).where(signups.c.slug == slug)
    ).scalar_one_or_none()
    if email:
        conn.execute(sa.delete(notice_contacts).where(notice_contacts.c.slug == slug))
        conn.execute(
            sa.insert(notice_contacts).values(
                slug=slug, email=email, deleted_at=now, keep_until=now + timedelta(days=keep_days)
            )
        )
    conn.execute(sa.update(signups).where(signups.c.slug == slug).values(admin_email=None))


def contacts(registry: Registry, slugs: Iterable[str], at: datetime) -> dict[str, str]:
    """The notice contact of each tenant that has one at `at`: the live admin e-mail, else the
    one kept after its deletion (until its keep date)."""
    wanted = sorted(set(slugs))
    with registry.read() as conn:
        live = dict(
            conn.execute(
                sa.select(signups.c.slug, signups.c.admin_email).where(
                    signups.c.slug.in_(wanted), signups.c.admin_email.is_not(None)
                )
            ).all()
        )
        kept = dict(
            conn.execute(
                sa.select(notice_contacts.c.slug, notice_contacts.c.email).where(
                    notice_contacts.c.slug.in_(wanted), notice_contacts.c.keep_until >= at
                )
            ).all()
        )
    return {**kept, **live}


def purge_notice_contacts(registry: Registry, at: datetime) -> int:
    """Delete kept contacts past their keep date, except those of tenants an open incident
    affects (still needed for its notices). Returns how many went."""
    with registry.write() as conn:
        needed: set[str] = set()
        opened = conn.execute(
            sa.select(e.data)
            .join(incidents, i.id == e.incident_id)
            .where(i.status == OPEN, e.kind == tl.OPENED)
        )
        for (data,) in opened:
            needed.update(a["tenant"] for a in (data or {}).get("affected", []))
        expired = [
            slug
            for (slug,) in conn.execute(
                sa.select(notice_contacts.c.slug).where(notice_contacts.c.keep_until < at)
            )
            if slug not in needed
        ]
        if expired:
            conn.execute(sa.delete(notice_contacts).where(notice_contacts.c.slug.in_(expired)))
            _scrub_sent_notices(conn, set(expired))
        return len(expired)


def _scrub_sent_notices(conn: sa.Connection, slugs: set[str]) -> None:
    """The address also sits in the payloads of notices already sent to it (the delivery log):
    it goes from there too; the log keeps that a notice went, when, and its outcome."""
    rows = conn.execute(
        sa.select(webhook_deliveries.c.id, webhook_deliveries.c.payload).where(
            webhook_deliveries.c.event == "incident.notice",
            webhook_deliveries.c.status != "pending",  # never under a delivery still retrying
        )
    ).all()
    for delivery_id, payload in rows:
        if payload.get("recipient") in slugs and payload.get("audience") == tl.CUSTOMERS:
            conn.execute(
                sa.update(webhook_deliveries)
                .where(webhook_deliveries.c.id == delivery_id)
                .values(payload={**payload, "to": None})
            )
