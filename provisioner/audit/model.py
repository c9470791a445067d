"""What the live audit reads and reports: plain dataclasses, no boto3.

A Finding names the rule that failed, the published promise it breaks (a key of
provisioner.promises.PROMISES) and the ARN of the resource, so an operator can go straight to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from provisioner.regions import Location


@dataclass(frozen=True)
class Target:
    """The tenant being audited and where it lives."""

    slug: str
    location: Location
    # What the stack's physical names derive from ("" = the slug: every tenant created directly).
    instance_id: str = ""

    @property
    def names(self) -> str:
        return self.instance_id or self.slug

    @property
    def region(self) -> str:
        return self.location.region

    @property
    def backup_region(self) -> str:
        return self.location.backup.region

    @property
    def regions(self) -> tuple[str, ...]:
        """The regions the tenant may have resources in: its own and its backup destination."""
        return tuple(sorted({self.region, self.backup_region}))

    @property
    def db_identifier(self) -> str:
        return f"t-{self.names}-db"

    @property
    def key_alias(self) -> str:
        return f"alias/tenant-{self.names}"


@dataclass(frozen=True, order=True)
class Finding:
    """One broken promise on one resource."""

    promise: str  # key of provisioner.promises.PROMISES
    rule: str  # stable id: "ebs.encrypted-with-tenant-key"
    arn: str  # the resource (or where it was expected)
    region: str
    message: str  # what is wrong, for a person

    def to_dict(self) -> dict[str, str]:
        return {
            "promise": self.promise,
            "rule": self.rule,
            "arn": self.arn,
            "region": self.region,
            "message": self.message,
        }


@dataclass
class Report:
    """The result of one audit: what was checked and what failed."""

    slug: str
    location: str
    region: str
    account: str
    checked: dict[str, list[str]] = field(default_factory=dict)  # rule -> ARNs checked
    findings: list[Finding] = field(default_factory=list)

    def check(self, rule: str, arn: str) -> None:
        """Record that `rule` ran on `arn` (the report shows coverage, not just failures)."""
        self.checked.setdefault(rule, []).append(arn)

    def fail(self, promise: str, rule: str, arn: str, region: str, message: str) -> None:
        self.check(rule, arn)
        self.findings.append(Finding(promise, rule, arn, region, message))

    @property
    def passed(self) -> bool:
        return not self.findings

    def to_dict(self) -> dict[str, Any]:
        return {
            "tenant": self.slug,
            "location": self.location,
            "region": self.region,
            "account": self.account,
            "passed": self.passed,
            "checked": {rule: sorted(set(arns)) for rule, arns in sorted(self.checked.items())},
            "findings": [f.to_dict() for f in sorted(set(self.findings))],
        }
