"""`provisioner check`: plan a tenant (or read a saved plan) and check the security baseline.

Exit 0 when every mandatory rule passes (advisory ones may warn), 1 when any fails, 2 for bad
input (including a malformed plan file).
"""

from __future__ import annotations

from pathlib import Path

import typer

from provisioner.cli.common import OUTPUT_OPTION, OutputFormat, emit_json
from provisioner.errors import EXIT_FAILED, UsageError


def check(
    slug: str | None = typer.Argument(None, help="Tenant slug to plan and check."),
    location: str | None = typer.Option(
        None, "--location", "-l", help="Signup location (us, uk, ie, de, au, sg, jp, in)."
    ),
    plan_name: str | None = typer.Option(
        None, "--plan", "-p", help="trial, free, standard or enterprise."
    ),
    plan_file: Path | None = typer.Option(
        None, "--plan-file", help="Check a saved plan JSON (`provisioner plan ... -o json`)."
    ),
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Check a tenant's planned stack against the security baseline (exit 1 on a failure)."""
    if plan_file is not None:
        if slug or location or plan_name:
            raise UsageError("give either --plan-file or SLUG --location --plan, not both")
        from provisioner.policy.plan_file import load_plan_file

        plan = load_plan_file(plan_file)
    else:
        if not (slug and location and plan_name):
            raise UsageError(
                "give SLUG --location LOC --plan PLAN, or --plan-file plan.json"
            )
        from provisioner.spec import TenantSpec

        spec = TenantSpec.create(slug, location, plan_name)  # validate before heavy imports
        from provisioner.synth import synth_plan

        plan = synth_plan(spec)
    from provisioner.policy import evaluate

    report = evaluate(plan)
    if output is OutputFormat.json:
        emit_json(report.to_dict())
    else:
        from rich.console import Console

        from provisioner.policy.report import findings_table, verdict_line

        console = Console()
        if report.failures:
            console.print(findings_table(report))
        console.print(verdict_line(report), highlight=False, soft_wrap=True)
    if not report.passed:
        raise typer.Exit(code=EXIT_FAILED)


def register(app: typer.Typer) -> None:
    app.command("check")(check)
