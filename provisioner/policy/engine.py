"""Running the rules over a plan: one report, every rule, never a crash.

A rule that raises on an input it did not expect is itself a mandatory failure ("could not
check"): a baseline that silently skips is worse than one that says it could not decide.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from provisioner.errors import Undetermined
from provisioner.policy.graph import Graph
from provisioner.policy.model import Finding, PolicyReport, Rule, Severity
from provisioner.policy.plan_file import validate_plan

if TYPE_CHECKING:
    from provisioner.spec import TenantSpec


def run_rule(rule: Rule, graph: Graph) -> list[Finding]:
    """The findings of one rule; undetermined ones (CrossGuard preview) only warn."""
    findings = []
    try:
        for v in rule.check(graph):
            severity = Severity.advisory if v.undetermined else rule.severity
            findings.append(Finding(rule.id, severity, v.urn or graph.stack_urn, v.message,
                                    rule.title))
    except Undetermined as exc:
        findings.append(Finding(rule.id, Severity.advisory, graph.stack_urn,
                                f"cannot be verified until applied: {exc}", rule.title))
    except Exception as exc:  # reported as a failure, never swallowed
        findings.append(Finding(rule.id, Severity.mandatory, graph.stack_urn,
                                f"could not check ({type(exc).__name__}: {exc})", rule.title))
    return findings


def evaluate_graph(graph: Graph, rules: Iterable[Rule] | None = None) -> PolicyReport:
    from provisioner.policy.rules import RULES

    chosen = tuple(rules) if rules is not None else RULES
    findings: list[Finding] = []
    for rule in chosen:
        findings.extend(run_rule(rule, graph))
    findings.sort(key=Finding.sort_key)
    return PolicyReport(
        tenant=dict(graph.tenant),
        rules_checked=tuple(r.id for r in chosen),
        failures=tuple(findings),
        resources_checked=sum(1 for _ in graph.data_resources()),
    )


def evaluate(plan: Mapping[str, Any], rules: Iterable[Rule] | None = None) -> PolicyReport:
    """Check a plan JSON (a dict) against the baseline. Raises UsageError if it is malformed."""
    return evaluate_graph(Graph.from_plan(validate_plan(plan)), rules)


def check_spec(spec: TenantSpec) -> PolicyReport:
    """Plan `spec` (a TenantSpec) offline under the mock runtime, then evaluate the plan."""
    from provisioner.synth import synth_plan

    return evaluate(synth_plan(spec))
