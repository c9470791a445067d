"""`provisioner plan`: the tenant's stack planned offline under Pulumi's mock runtime."""

from __future__ import annotations

import typer

from provisioner.cli.common import OUTPUT_OPTION, OutputFormat, emit_json
from provisioner.errors import EXIT_FAILED

SLUG_ARGUMENT = typer.Argument(..., help="Tenant slug: a DNS label, 3-40 characters.")
LOCATION_OPTION = typer.Option(
    ..., "--location", "-l", help="Signup location (us, uk, ie, de, au, sg, jp, in) or AWS region."
)
PLAN_OPTION = typer.Option(..., "--plan", "-p", help="trial, free, standard or enterprise.")


def plan(
    slug: str = SLUG_ARGUMENT,
    location: str = LOCATION_OPTION,
    plan_name: str = PLAN_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Plan a tenant's stack offline (no Pulumi CLI, credentials or network) and show it.

    Exits 1 when the plan breaks a mandatory rule of the security baseline."""
    from provisioner.spec import TenantSpec

    spec = TenantSpec.create(slug, location, plan_name)  # validate before the heavy import
    from provisioner.synth import synth_plan

    result = synth_plan(spec)
    from provisioner.policy import evaluate
    from provisioner.policy.report import findings_table, verdict_line

    report = evaluate(result)  # the security baseline's verdict on this plan
    if output is OutputFormat.json:
        emit_json(result)  # the plan contract, unchanged; the verdict goes to stderr
        typer.echo(f"security baseline: {verdict_line(report)}", err=True)
    else:
        from rich.console import Console

        from provisioner.plan_view import render_tree

        console = Console()
        console.print(render_tree(result))
        console.print(f"{len(result['resources'])} resources")
        if report.failures:
            console.print(findings_table(report))
        console.print(f"security baseline: {verdict_line(report)}", highlight=False, soft_wrap=True)
    if not report.passed:
        # A plan that breaks a published promise is refused: shown, but never a success.
        raise typer.Exit(code=EXIT_FAILED)


def register(app: typer.Typer) -> None:
    app.command("plan")(plan)
