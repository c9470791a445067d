"""Who an incident affects, from the registry's history rather than today's state.

A tenant is affected when its stack region or its backup copy's region (regions.yaml) is among
the affected regions and its data existed there at some moment of the window: created at or
before the window's end, and not deleted before the window's start. Deleted tenants are
included with their deletion date. Tenants named explicitly are included whatever their region.
Pure: tenant histories and the catalogue in, the affected set out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from provisioner.regions import Catalogue
from provisioner.retention import iso


@dataclass(frozen=True)
class TenantHistory:
    """What the registry remembers of a tenant for this purpose (tombstones included)."""

    slug: str
    location: str
    region: str  # the stack's region, as recorded at creation
    plan: str
    created_at: datetime
    deleted_at: datetime | None  # when its deletion took effect (None: still holds data)


@dataclass(frozen=True)
class Window:
    """The instants data may have been exposed; None on a side: unbounded (not known)."""

    start: datetime | None
    end: datetime


@dataclass(frozen=True)
class Affected:
    tenant: str
    location: str
    jurisdiction: str
    plan: str
    region: str
    backup_region: str
    created_at: datetime
    deleted_at: datetime | None
    why: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "location": self.location,
            "jurisdiction": self.jurisdiction,
            "plan": self.plan,
            "region": self.region,
            "backup_region": self.backup_region,
            "created_at": iso(self.created_at),
            "deleted_at": iso(self.deleted_at) if self.deleted_at else None,
            "why": self.why,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Affected:
        def when(value: str | None) -> datetime | None:
            return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None

        created = when(data["created_at"])
        assert created is not None
        return cls(
            data["tenant"], data["location"], data["jurisdiction"], data["plan"], data["region"],
            data["backup_region"], created, when(data["deleted_at"]), data["why"],
        )  # fmt: skip


def existed_during(history: TenantHistory, window: Window) -> bool:
    """Its data existed at some instant of the window (both ends included)."""
    if history.created_at > window.end:
        return False
    return not (
        window.start is not None
        and history.deleted_at is not None
        and history.deleted_at < window.start
    )


def affected(
    histories: Iterable[TenantHistory],
    catalogue: Catalogue,
    regions: Iterable[str],
    window: Window,
    listed: Iterable[str] = (),
) -> list[Affected]:
    """The affected tenants, sorted by slug, each with why it is included."""
    wanted = set(regions)
    named = set(listed)
    out: list[Affected] = []
    for history in histories:
        location = catalogue.locations.get(history.location)
        backup = location.backup.region if location else history.region
        reasons: list[str] = []
        if history.slug in named:
            reasons.append("listed on the incident")
        if existed_during(history, window):
            span = f"from {iso(history.created_at)}" + (
                f" until its deletion {iso(history.deleted_at)}" if history.deleted_at else ""
            )
            if history.region in wanted:
                reasons.append(f"stack in {history.region} {span}")
            if backup in wanted and backup != history.region:
                reasons.append(f"backup copy in {backup} {span}")
            elif backup in wanted:  # an air-gapped vault in the stack's own region
                reasons[-1] += " (its air-gapped backup vault too)"
        if not reasons:
            continue
        out.append(
            Affected(
                tenant=history.slug,
                location=history.location,
                jurisdiction=location.jurisdiction if location else "unknown",
                plan=history.plan,
                region=history.region,
                backup_region=backup,
                created_at=history.created_at,
                deleted_at=history.deleted_at,
                why="; ".join(reasons),
            )
        )
    out.sort(key=lambda a: a.tenant)
    return out
