"""The security baseline as code: rules over a plan's resource graph.

    evaluate(plan)   -> PolicyReport   check a plan JSON dict
    check_spec(spec) -> PolicyReport   plan a TenantSpec offline, then check it
    RULES                              every rule (id, title, promise, severity, check)

The same rules run in the CrossGuard pack (stacks/policy_pack) during real `pulumi preview`.
"""

from __future__ import annotations

from typing import Any

from provisioner.policy.engine import check_spec, evaluate
from provisioner.policy.model import Finding, PolicyReport, Rule, Severity

__all__ = ["RULES", "Finding", "PolicyReport", "Rule", "Severity", "check_spec", "evaluate"]


def __getattr__(name: str) -> Any:
    if name == "RULES":  # the rule modules load on first use
        from provisioner.policy.rules import RULES

        return RULES
    raise AttributeError(name)
