"""One incident as the CLI's `show -o json` and the API's `GET /v1/incidents/{id}` present it:
`{"id", "discovered_at", "affected": [...], "deadlines": [...], "timeline": [...], ...}`."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from provisioner.incidents import timeline as tl
from provisioner.incidents.chain import verify
from provisioner.incidents.deadlines import Deadline, deadlines
from provisioner.incidents.rules import RuleBook, rulebook

if TYPE_CHECKING:
    from provisioner.registry import Registry
    from provisioner.registry.incidents import Incident


def incident_deadlines(
    incident: Incident, entries: list[Any], now: datetime, book: RuleBook | None = None
) -> list[Deadline]:
    found = tl.affected_of(entries)
    progress = tl.progress_of(incident.kind, incident.discovered_at, entries, found)
    return deadlines(book or rulebook(), progress, {a.jurisdiction for a in found}, now)


def document(registry: Registry, incident_id: int, now: datetime) -> dict[str, Any]:
    from provisioner.registry import incidents as store

    incident = store.get_incident(registry, incident_id)
    entries = store.entries(registry, incident_id)
    found = tl.affected_of(entries)
    return {
        **incident.to_dict(),
        "at": now.isoformat().replace("+00:00", "Z"),
        "affected": [a.to_dict() for a in found],
        "deadlines": [d.to_dict() for d in incident_deadlines(incident, entries, now)],
        "timeline": [entry.to_dict() for entry in entries],
        "chain": verify(incident_id, entries).to_dict(),
    }


def summary(registry: Registry, incident: Incident, now: datetime) -> dict[str, Any]:
    """A list row: the incident, how many it affects, and its soonest unmet deadline."""
    from provisioner.registry import incidents as store

    entries = store.entries(registry, incident.id)
    pending = [
        d for d in incident_deadlines(incident, entries, now)
        if d.status in ("open", "overdue") and d.due is not None
    ]  # fmt: skip
    return {
        **incident.to_dict(),
        "affected": len(tl.affected_of(entries)),
        "next_deadline": pending[0].to_dict() if pending else None,
    }
