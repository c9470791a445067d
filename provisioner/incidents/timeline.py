"""What an incident's timeline says has happened: the kinds of entry, and the progress they add
up to (assessed? who has been told, and when?), which the deadlines are computed from."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from provisioner.incidents.affected import Affected
from provisioner.incidents.chain import Entry
from provisioner.incidents.deadlines import Progress

OPENED, ASSESSED, NOTE, CLOSED = "opened", "assessed", "note", "closed"
DRAFTED, SENT, NO_CONTACT = "notice.drafted", "notice.sent", "notice.no-contact"
DELIVERED, FAILED = "notice.delivered", "notice.failed"
HOLD, RELEASE = "hold", "release"
AUDIT, AUDIT_UNAVAILABLE = "audit", "audit.unavailable"
CUSTOMERS = "customers"


def affected_of(entries: Sequence[Entry]) -> list[Affected]:
    """The affected set recorded when the incident was opened (hashed with the first entry)."""
    opened = next(e for e in entries if e.kind == OPENED)
    return [Affected.from_dict(a) for a in opened.data.get("affected", [])]


def progress_of(
    kind: str, discovered_at: datetime, entries: Iterable[Entry], affected: Sequence[Affected]
) -> Progress:
    notifiable: bool | None = None
    assessed_at = notifiable_at = material_at = None
    delivered_customers: dict[str, datetime] = {}
    told: dict[str, datetime] = {}
    for entry in entries:
        if entry.kind == ASSESSED:
            notifiable = bool(entry.data.get("notifiable"))
            assessed_at = assessed_at or entry.at
            if notifiable and notifiable_at is None:
                notifiable_at = entry.at
            if entry.data.get("material") and material_at is None:
                material_at = entry.at
        elif entry.kind == DELIVERED:
            audience = str(entry.data.get("audience"))
            if audience == CUSTOMERS:
                delivered_customers.setdefault(str(entry.data.get("tenant")), entry.at)
            else:
                told.setdefault(audience, entry.at)
    slugs = {a.tenant for a in affected}
    if slugs and slugs <= delivered_customers.keys():
        told[CUSTOMERS] = max(delivered_customers[s] for s in slugs)
    return Progress(
        kind=kind,
        discovered_at=discovered_at,
        notifiable=notifiable,
        assessed_at=assessed_at,
        notifiable_at=notifiable_at,
        material_at=material_at,
        told=told,
    )
