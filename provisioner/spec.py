"""TenantSpec: everything the tenant stack is a function of, validated at the edge.

The slug is what customers and operators see: the DNS record, tags and the app's configuration.
Names in the cloud (`stack_name`, `resource_prefix`, every physical name) derive from the
immutable `instance_id` instead, so a warm-pool instance built before its customer existed can be
bound to a slug in place (tags, DNS, app configuration) without replacing anything. For a tenant
created directly the instance id is its slug, so its names are exactly what they always were.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from provisioner.errors import UsageError
from provisioner.plans import PlanSizes, get_plan
from provisioner.regions import Catalogue, Location, catalogue

SLUG_MIN, SLUG_MAX = 3, 40
SLUG_PATTERN = r"^[a-z][a-z0-9-]*[a-z0-9]$"  # for JSON Schema / OpenAPI (whole-string there)
_SLUG_RE = re.compile(r"[a-z][a-z0-9-]*[a-z0-9]")  # always fullmatch()ed
INSTANCE_ID_PREFIX = "pool-"  # pooled instance ids: never a customer's slug

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
    if value.startswith(INSTANCE_ID_PREFIX):
        raise UsageError(f"slug {value!r}: {INSTANCE_ID_PREFIX!r} is reserved for pooled instances")
    return value


def validate_instance_id(value: str) -> str:
    """An instance id names cloud resources: the slug's rules, and the pool's prefix."""
    if not isinstance(value, str) or not value.startswith(INSTANCE_ID_PREFIX):
        raise UsageError(f"instance id {value!r} must start with {INSTANCE_ID_PREFIX!r}")
    if not SLUG_MIN <= len(value) <= SLUG_MAX or not _SLUG_RE.fullmatch(value) or "--" in value:
        raise UsageError(
            f"instance id {value!r} is not a DNS label of {SLUG_MIN}-{SLUG_MAX} characters"
        )
    return value


@dataclass(frozen=True)
class TenantSpec:
    """What a tenant is: the one input of the tenant stack."""

    slug: str  # customer-facing name and DNS label: "acme"
    location: Location  # where the data lives
    plan: PlanSizes  # what the customer pays for
    # Names in the cloud; "" means the slug (every tenant created without the pool).
    instance_id: str = ""
    # Built for a warm pool: served by the region's wildcard certificate, told its slug by an
    # SSM parameter (not its user data), so binding it to a customer replaces nothing.
    pooled: bool = False
    # Serves a customer (has a DNS record). False only for a pooled instance still waiting.
    bound: bool = True
    # A bound pooled instance's admin invitation: the address the signup gave, written to the
    # app's configuration parameter by the bind (the app mails the invitation, with a sign-in
    # link it makes itself). Personal data, not a secret; kept out of repr (log lines).
    admin_email: str = field(default="", repr=False)
    # The stack still holds the backup copy of the program before the backup account (an
    # in-account copy vault and a key replica): kept, never deleted by an update, until the new
    # vault holds copies for the plan's retention (stacks/components/legacy_backup.py).
    legacy_backup: bool = False

    def __post_init__(self) -> None:
        if not self.instance_id:
            object.__setattr__(self, "instance_id", self.slug)
        if not self.bound and not self.pooled:
            raise UsageError("only a pooled instance can be unbound")

    @classmethod
    def for_pool(cls, instance_id: str, location: Location, plan: PlanSizes) -> TenantSpec:
        """A pooled instance waiting for its customer: its slug is its instance id until bound."""
        validate_instance_id(instance_id)
        return cls(
            slug=instance_id,
            location=location,
            plan=plan,
            instance_id=instance_id,
            pooled=True,
            bound=False,
        )

    def bind(self, slug: str, admin_email: str = "") -> TenantSpec:
        """This pooled instance serving the customer `slug`: same instance id, same names; the
        app's configuration invites `admin_email` (if given) as the instance's first admin."""
        if not self.pooled:
            raise UsageError(f"{self.instance_id} is not a pooled instance: it cannot be bound")
        return replace(self, slug=validate_slug(slug), bound=True, admin_email=admin_email)

    @classmethod
    def create(
        cls,
        slug: str,
        location: str,
        plan: str,
        regions: Catalogue | None = None,
        instance_id: str | None = None,
        admin_email: str | None = None,
    ) -> TenantSpec:
        """Validate raw input (a location code or AWS region name, a plan name). An
        `instance_id` is the pooled instance the tenant was bound to (None: created directly);
        `admin_email` is invited by a bound pooled instance's configuration (a tenant built
        directly takes no invitation from its stack: its plan stays what it always was)."""
        cat = regions or catalogue()
        spec = cls(slug=validate_slug(slug), location=cat.resolve(location), plan=get_plan(plan))
        if instance_id is None:
            return spec
        return cls.for_pool(instance_id, spec.location, spec.plan).bind(slug, admin_email or "")

    @property
    def region(self) -> str:
        return self.location.region

    @property
    def stack_name(self) -> str:
        """The Pulumi stack name: derived from the instance id, never raw input."""
        return f"tenant-{self.instance_id}"

    @property
    def resource_prefix(self) -> str:
        """Prefix of physical names in AWS (fits RDS's 63 characters with a suffix)."""
        return f"t-{self.instance_id}"

    def tags(self) -> dict[str, str]:
        """Tags every taggable resource of the tenant carries."""
        return {
            "tenant": self.slug,
            "location": self.location.code,
            "plan": self.plan.name,
            "managed-by": "provisioner",
        }

    def to_dict(self) -> dict[str, Any]:
        """The spec as the plan JSON shows it (the pool's fields only where they matter, so a
        directly created tenant's plan is what it always was)."""
        shown: dict[str, Any] = {
            "slug": self.slug,
            "location": self.location.code,
            "region": self.region,
            "jurisdiction": self.location.jurisdiction,
            "plan": self.plan.name,
            "backup_region": self.location.backup.region,
            "backup_mode": self.location.backup.mode,
            "backup_account_id": self.location.backup.account_id,
        }
        if self.pooled or self.instance_id != self.slug:
            shown.update(instance_id=self.instance_id, pooled=self.pooled, bound=self.bound)
        if self.legacy_backup:
            shown["legacy_backup"] = True
        return shown
