"""The policy report for people: a rich table of findings and a one-line verdict."""

from __future__ import annotations

from typing import Any

from provisioner.policy.model import PolicyReport, Rule, Severity


def short_urn(urn: str) -> str:
    """`urn:pulumi:s::p::a$aws:rds/instance:Instance::db` -> `rds.Instance db`."""
    if not urn:
        return "(stack)"
    type_part, _, name = urn.rpartition("::")
    token = type_part.rsplit("$", 1)[-1].rsplit("::", 1)[-1]
    parts = token.split(":")
    is_aws = len(parts) == 3 and parts[0] == "aws"
    short = f"{parts[1].split('/')[0]}.{parts[2]}" if is_aws else token
    return f"{short} {name}"


def verdict_line(report: PolicyReport) -> str:
    """One line: PASS/FAIL, counts, and the failed rule ids."""
    head = "PASS" if report.passed else "FAIL"
    line = (f"{head}: {len(report.rules_checked)} rules over {report.resources_checked}"
            f" cloud resources, {len(report.mandatory_failures)} mandatory failure(s),"
            f" {len(report.warnings)} warning(s)")
    if not report.passed:
        line += f" [{', '.join(report.failed_rule_ids())}]"
    return line


def findings_table(report: PolicyReport) -> Any:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="Security baseline findings", show_lines=False)
    table.add_column("Rule", no_wrap=True)
    table.add_column("Severity", no_wrap=True)
    table.add_column("Resource")
    table.add_column("Message")
    for f in report.failures:
        style = "red" if f.severity is Severity.mandatory else "yellow"
        label = "FAIL" if f.severity is Severity.mandatory else "warn"
        table.add_row(f.rule_id, f"[{style}]{label}[/{style}]", escape(short_urn(f.urn)),
                      escape(f.message))
    return table


def rules_table(rules: tuple[Rule, ...]) -> Any:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="Security baseline rules")
    table.add_column("Rule", no_wrap=True)
    table.add_column("Severity", no_wrap=True)
    table.add_column("What must hold")
    table.add_column("Promise it enforces")
    for rule in rules:
        table.add_row(rule.id, rule.severity.value, rule.title,
                      escape(f"[{rule.promise}] \u201c{rule.promise_text}\u201d"))
    return table
