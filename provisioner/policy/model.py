"""What a rule is, what it finds, and the report of a whole evaluation.

A rule reads the resource graph of one plan and yields a `Violation` for every resource that
breaks the promise it guards. Severity decides what a violation means: `mandatory` fails the
check (exit 1, the engine refuses to deploy), `advisory` only warns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from provisioner.policy.graph import Graph
from provisioner.promises import PROMISES


class Severity(StrEnum):
    mandatory = "mandatory"  # a violation fails the check
    advisory = "advisory"  # a violation is a warning


@dataclass(frozen=True)
class Violation:
    """One resource breaking one rule, as a rule yields it."""

    urn: str  # the resource at fault ("" or the stack's urn for something missing stack-wide)
    message: str  # what is wrong and what would fix it, one line
    # True when the verdict depends on a value not known yet (CrossGuard during preview).
    undetermined: bool = False


Check = Callable[[Graph], Iterable[Violation]]


@dataclass(frozen=True)
class Rule:
    """One checkable promise."""

    id: str  # stable: "TLS-001"; never reused for another meaning
    title: str  # what must hold, in one line
    promise: str  # key into provisioner.promises.PROMISES
    severity: Severity
    check: Check = field(repr=False, compare=False)
    rationale: str = ""  # why, and any documented exception

    @property
    def promise_text(self) -> str:
        """The published promise this rule enforces, quoted."""
        return PROMISES[self.promise]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "promise": self.promise,
            "promise_text": self.promise_text,
            "severity": self.severity.value,
            "rationale": self.rationale,
        }


@dataclass(frozen=True)
class Finding:
    """A violation with its rule: what the report, the CLI and the pack show."""

    rule_id: str
    severity: Severity
    urn: str
    message: str
    title: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "severity": self.severity.value,
            "urn": self.urn,
            "message": self.message,
            "title": self.title,
        }

    def sort_key(self) -> tuple[int, str, str, str]:
        rank = 0 if self.severity is Severity.mandatory else 1
        return (rank, self.rule_id, self.urn, self.message)


@dataclass(frozen=True)
class PolicyReport:
    """The verdict on one plan.

    `failures` lists every violation, mandatory first (each carries its severity); `passed` is
    True when no mandatory rule is violated, whatever the advisory ones say.
    """

    tenant: Mapping[str, Any]
    rules_checked: tuple[str, ...]
    failures: tuple[Finding, ...]
    resources_checked: int = 0

    @property
    def mandatory_failures(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.failures if f.severity is Severity.mandatory)

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.failures if f.severity is Severity.advisory)

    @property
    def passed(self) -> bool:
        return not self.mandatory_failures

    def failed_rule_ids(self) -> list[str]:
        return sorted({f.rule_id for f in self.mandatory_failures})

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "tenant": dict(self.tenant),
            "summary": {
                "rules_checked": len(self.rules_checked),
                "resources_checked": self.resources_checked,
                "mandatory_failures": len(self.mandatory_failures),
                "warnings": len(self.warnings),
                "failed_rules": self.failed_rule_ids(),
            },
            "failures": [f.to_dict() for f in self.failures],
        }
