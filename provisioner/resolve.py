"""Which tenant a command acts on: its location and plan, from the flags and the registry.

A registered tenant's location is where its customer chose to keep their data, and its plan is
a billing fact: flags may repeat them, never contradict them. An unregistered tenant needs the
flags. Looking a tenant up never creates a registry that does not exist yet (a read-only command
leaves nothing behind). Used by the stack commands (`tenants up`, ...) and the audit commands.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from provisioner.errors import UsageError
from provisioner.spec import validate_slug

if TYPE_CHECKING:
    from provisioner.regions import Location
    from provisioner.registry import Tenant


@dataclass(frozen=True)
class Resolved:
    """The tenant to act on: its location, its plan (None when not asked for), its record."""

    slug: str
    location: Location
    plan: str | None
    tenant: Tenant | None  # the registry's record; None for a tenant it does not know


def registered(slug: str, database_url: str | None = None) -> Tenant | None:
    """The registry's record of `slug`, or None. Never creates a registry that does not exist."""
    from provisioner.paths import existing_database_url

    url = existing_database_url(database_url)
    if url is None:
        return None
    from provisioner.registry import Registry

    with Registry.open(url) as registry:
        return registry.find_tenant(slug)


def resolve(
    slug: str, location: str | None, plan: str | None = None, *, need_plan: bool = True
) -> Resolved:
    """Flags, else the registered values; bad flags fail before the registry is read."""
    from provisioner.regions import catalogue

    validate_slug(slug)
    regions = catalogue()
    loc = regions.resolve(location) if location is not None else None
    tenant = registered(slug)
    if tenant is not None:
        if loc is not None and loc.code != tenant.location:
            raise UsageError(
                f"tenant {slug} is registered in location {tenant.location}; a stack never moves"
                " to another region: drop --location"
            )
        if plan is not None and plan != tenant.plan:
            raise UsageError(
                f"tenant {slug} is registered on plan {tenant.plan}: change the plan in the"
                " registry (billing), then run without --plan"
            )
        loc, plan = regions.resolve(tenant.location), plan or tenant.plan
    missing = [flag for flag, v in (("--location", loc), ("--plan", plan)) if v is None]
    if not need_plan and "--plan" in missing:
        missing.remove("--plan")
    if missing or loc is None:
        where = f" ({', '.join(regions.locations)})" if loc is None else ""
        raise UsageError(f"tenant {slug} is not registered: give {' and '.join(missing)}{where}")
    return Resolved(slug, loc, plan, tenant)
