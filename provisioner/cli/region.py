"""`provisioner region plan|check LOCATION`: a location's platform stack, planned offline.

The platform stack (stacks/region) holds the alert topic every tenant alarm of the location
notifies and the rules that turn backup-job failures and key deletions into alerts. Its
subscriptions come from `--subscribe` (repeatable) or PROVISIONER_ALERT_SUBSCRIPTIONS.
Exit 0 when every regional rule passes, 1 when one fails, 2 for bad input.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import typer

from provisioner.cli.common import OUTPUT_OPTION, OutputFormat, emit_json
from provisioner.errors import EXIT_FAILED

if TYPE_CHECKING:
    from provisioner.region_spec import RegionSpec

app = typer.Typer(help="A location's platform stack: alert topic, alert rules, CloudTrail trail"
                  " and the warm pools' wildcard certificate.",
                  no_args_is_help=True)
LOCATION_ARGUMENT = typer.Argument(..., help="Signup location (us, uk, ie, de, au, sg, jp, in)"
                                             " or AWS region.")
SUBSCRIBE_OPTION = typer.Option(
    None, "--subscribe", "-s",
    help="Who is alerted, PROTOCOL:ENDPOINT (email:ops@example.com, https://..., sqs:ARN,"
         " lambda:ARN); repeatable. Default: PROVISIONER_ALERT_SUBSCRIPTIONS, else regions.yaml's"
         " alerts.",
)


def _spec(location: str, subscribe: list[str] | None) -> RegionSpec:
    from provisioner.region_spec import SUBSCRIPTIONS_ENV, RegionSpec, split_subscriptions

    chosen = subscribe or split_subscriptions(os.environ.get(SUBSCRIPTIONS_ENV, ""))
    if not chosen:  # neither given: regions.yaml's `alerts`
        return RegionSpec.configured(location)
    return RegionSpec.create(location, chosen)  # validated before the heavy imports


def _show(plan: dict[str, Any], output: OutputFormat, with_tree: bool) -> None:
    from provisioner.policy.report import findings_table, verdict_line
    from provisioner.region_plan import evaluate_region

    report = evaluate_region(plan)
    if output is OutputFormat.json:
        verdict = report.to_dict()
        verdict["region"] = verdict.pop("tenant")  # the report's header is the region's
        emit_json(plan if with_tree else verdict)
        if with_tree:
            typer.echo(f"regional baseline: {verdict_line(report)}", err=True)
    else:
        from rich.console import Console

        console = Console()
        if with_tree:
            from provisioner.plan_view import render_tree

            header = plan["region"]
            subs = ", ".join(header["subscriptions"]) or "nobody"
            title = (f"[bold]{header['stack']}[/] ({header['region']},"
                     f" {header['jurisdiction']}), alerts to {subs}")
            console.print(render_tree(plan, title=title))
            console.print(f"{len(plan['resources'])} resources")
        if report.failures:
            console.print(findings_table(report))
        console.print(f"regional baseline: {verdict_line(report)}", highlight=False,
                      soft_wrap=True)
    if not report.passed:
        raise typer.Exit(code=EXIT_FAILED)


@app.command("plan")
def plan(
    location: str = LOCATION_ARGUMENT,
    subscribe: list[str] | None = SUBSCRIBE_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Plan a location's platform stack offline and show it (exit 1 if a rule fails)."""
    spec = _spec(location, subscribe)
    from provisioner.region_plan import plan_region

    _show(plan_region(spec), output, with_tree=True)


@app.command("check")
def check(
    location: str = LOCATION_ARGUMENT,
    subscribe: list[str] | None = SUBSCRIBE_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Check a location's planned platform stack against the regional rules (exit 1 on a
    failure)."""
    spec = _spec(location, subscribe)
    from provisioner.region_plan import plan_region

    _show(plan_region(spec), output, with_tree=False)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="region")
