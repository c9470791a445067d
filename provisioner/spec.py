"""TenantSpec: everything the tenant stack is a function of, validated at the edge.

The slug is what customers and operators see; names in the cloud are derived from it
(`stack_name`, `resource_prefix`) so raw input never reaches a resource or stack name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from provisioner.errors import UsageError
from provisioner.plans import PlanSizes, get_plan
from provisioner.regions import Catalogue, Location, catalogue

SLUG_MIN, SLUG_MAX = 3, 40
SLUG_PATTERN = r"^[a-z][a-z0-9-]*[a-z0-9]$"  # for JSON Schema / OpenAPI (whole-string there)
_SLUG_RE = re.compile(r"[a-z][a-z0-9-]*[a-z0-9]")  # always fullmatch()ed

# Hostnames and paths the platform itself uses, or that would mislead a customer.
RESERVED_SLUGS = frozenset(
    {
        "www", "api", "admin", "app", "auth", "login", "sso", "mail", "smtp", "imap", "ftp",
        "status", "support", "help", "docs", "billing", "static", "cdn", "assets", "dashboard",
        "console", "root", "system", "internal", "staging", "prod", "production", "test", "dev",
        "security", "account", "accounts", "signup", "portal", "provisioner", "metrics",
    }
)  # fmt: skip


def validate_slug(value: str) -> str:
    """Return the slug if it is a valid tenant name, else raise UsageError saying why."""
    if not isinstance(value, str) or not value:
        raise UsageError("slug is empty: use 3-40 lowercase letters, digits and hyphens")
    if not SLUG_MIN <= len(value) <= SLUG_MAX:
        raise UsageError(
            f"slug {value!r} has {len(value)} characters: use {SLUG_MIN}-{SLUG_MAX}"
        )
    if not _SLUG_RE.fullmatch(value):
        raise UsageError(
            f"slug {value!r} is not a DNS label: use lowercase letters, digits and hyphens,"
            " starting with a letter and not ending with a hyphen"
        )
    if "--" in value:
        raise UsageError(f"slug {value!r} has '--': use single hyphens")
    if value in RESERVED_SLUGS:
        raise UsageError(f"slug {value!r} is reserved: choose another name")
    return value


@dataclass(frozen=True)
class TenantSpec:
    """What a tenant is: the one input of the tenant stack."""

    slug: str  # customer-facing name and DNS label: "acme"
    location: Location  # where the data lives
    plan: PlanSizes  # what the customer pays for

    @classmethod
    def create(
        cls, slug: str, location: str, plan: str, regions: Catalogue | None = None
    ) -> TenantSpec:
        """Validate raw input (a location code or AWS region name, a plan name)."""
        cat = regions or catalogue()
        return cls(slug=validate_slug(slug), location=cat.resolve(location), plan=get_plan(plan))

    @property
    def region(self) -> str:
        return self.location.region

    @property
    def stack_name(self) -> str:
        """The Pulumi stack name: derived from the validated slug, never raw input."""
        return f"tenant-{self.slug}"

    @property
    def resource_prefix(self) -> str:
        """Prefix of physical names in AWS (fits RDS's 63 characters with a suffix)."""
        return f"t-{self.slug}"

    def tags(self) -> dict[str, str]:
        """Tags every taggable resource of the tenant carries."""
        return {
            "tenant": self.slug,
            "location": self.location.code,
            "plan": self.plan.name,
            "managed-by": "provisioner",
        }

    def to_dict(self) -> dict[str, Any]:
        """The spec as the plan JSON shows it."""
        return {
            "slug": self.slug,
            "location": self.location.code,
            "region": self.region,
            "jurisdiction": self.location.jurisdiction,
            "plan": self.plan.name,
            "backup_region": self.location.backup.region,
            "backup_mode": self.location.backup.mode,
            "backup_account_id": self.location.backup.account_id,
        }
