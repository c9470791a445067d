"""Questions several rules ask about a reference: is this the tenant's own key, its own vault...

Each answer is a `Verdict`: ok, a reason it is not, or undetermined (the value is not known yet
and its candidates disagree). "The tenant's own" always means: a resource defined in this plan.
A key ARN from elsewhere (an AWS-managed `alias/aws/...` key, another account's key, another
tenant's key) resolves to nothing and fails.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from provisioner.policy.graph import Graph, Resource, Unknown, truthy
from provisioner.policy.model import Violation

KEY = "aws:kms/key:Key"
REPLICA_KEY = "aws:kms/replicaKey:ReplicaKey"
ALIAS = "aws:kms/alias:Alias"
KEY_TYPES = (KEY, REPLICA_KEY)


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str = ""  # why not, when not ok
    undetermined: bool = False
    target: Resource | None = None  # the resource referred to, when there is exactly one

    def violation(self, urn: str, what: str) -> Violation | None:
        """None when ok, else a violation `what: reason` on `urn`."""
        if self.ok:
            return None
        return Violation(urn, f"{what}: {self.reason}", undetermined=self.undetermined)


OK = Verdict(ok=True)


def judge(
    g: Graph,
    value: Any,
    types: Iterable[str],
    test: Callable[[Resource], str | None],
    missing: str,
) -> Verdict:
    """Resolve `value` to resources of `types` and apply `test` (None = pass, else a reason).

    Not set or resolving to nothing: fails with `missing`. Several candidates (an unknown value):
    passes when all pass, fails when all fail, undetermined otherwise.
    """
    if value is None or value == "":
        return Verdict(ok=False, reason=f"{missing} (not set)")
    targets = g.referents(value, types)
    if not targets:
        shown = value if isinstance(value, str) else "an unknown value"
        return Verdict(ok=False, reason=f"{missing} ({shown!s} is not defined in this plan)")
    reasons = [test(t) for t in targets]
    bad = [r for r in reasons if r]
    if not bad:
        return Verdict(ok=True, target=targets[0] if len(targets) == 1 else None)
    if len(bad) < len(reasons) and isinstance(value, Unknown):
        return Verdict(ok=False, reason=f"cannot be verified until applied: {bad[0]}",
                       undetermined=True)
    return Verdict(ok=False, reason=bad[0], target=targets[0] if len(targets) == 1 else None)


def _key_test(g: Graph, seen: frozenset[str] = frozenset()) -> Callable[[Resource], str | None]:
    def test(res: Resource) -> str | None:
        if res.urn in seen:
            return f"{res.urn} refers to itself"
        if res.type == KEY:
            if not truthy(res.inputs.get("enableKeyRotation")):
                return f"key {res.name} has no automatic rotation (enableKeyRotation)"
            spec = res.inputs.get("customerMasterKeySpec") or res.inputs.get("keySpec")
            if spec not in (None, "SYMMETRIC_DEFAULT"):
                return f"key {res.name} is {spec}, not an AES-256 symmetric key"
            return None
        if res.type == REPLICA_KEY:
            # A multi-region replica shares its primary's key material and rotation.
            inner = key_verdict(g, res.inputs.get("primaryKeyArn"), seen | {res.urn})
            return None if inner.ok else f"replica {res.name}: {inner.reason}"
        if res.type == ALIAS:
            inner = key_verdict(g, res.inputs.get("targetKeyId"), seen | {res.urn})
            return None if inner.ok else f"alias {res.name}: {inner.reason}"
        return f"{res.urn} is not a KMS key"

    return test


def key_verdict(g: Graph, value: Any, seen: frozenset[str] = frozenset()) -> Verdict:
    """Is `value` one of the tenant's own customer-managed, rotated, symmetric KMS keys?"""
    return judge(
        g, value, (*KEY_TYPES, ALIAS), _key_test(g, seen),
        "not a customer-managed KMS key of this tenant",
    )


def key_in_region(g: Graph, value: Any, region: str) -> bool:
    """True unless `value` resolves to exactly one key that is in another region.

    KMS keys are regional: a vault or log group can only use a key of its own region.
    """
    targets = g.referents(value, (*KEY_TYPES, ALIAS))
    return not (len(targets) == 1 and targets[0].region not in ("", region))
