"""`provisioner billing record|import`: billing events that move the retention clock."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from provisioner.cli._registry import actor, open_registry
from provisioner.cli.common import OUTPUT_OPTION, OutputFormat, emit_json, parse_at
from provisioner.errors import UsageError

app = typer.Typer(
    help="Record billing events (they drive the retention clock).", no_args_is_help=True
)


@app.command("record")
def record(
    slug: str = typer.Argument(..., help="The tenant."),
    event: str = typer.Argument(
        ...,
        help="converted, cancelled, payment_failed, payment_recovered, activity, plan_changed.",
    ),
    at: str | None = typer.Option(
        None, "--at", help="When it happened (ISO 8601, UTC if no zone); default now."
    ),
    plan: str | None = typer.Option(
        None, "--plan", help="The new plan (plan_changed; converted defaults to standard)."
    ),
    external_id: str | None = typer.Option(
        None, "--id", help="The billing system's id for the event (recorded once)."
    ),
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Record one billing event for a tenant."""
    from provisioner.lifecycle import BILLING_EVENTS

    if event not in BILLING_EVENTS:
        raise UsageError(f"unknown billing event {event!r}: use one of {', '.join(BILLING_EVENTS)}")
    if event == "plan_changed" and plan is None:
        raise UsageError("plan_changed needs --plan NEW_PLAN")
    when = parse_at(at)
    with open_registry() as reg:
        result = reg.record_billing_event(
            slug, event, actor=actor(), at=when, plan=plan, external_id=external_id
        )
    if output == OutputFormat.json:
        emit_json(
            {
                "tenant": result.tenant.to_dict(),
                "billing_record": result.record.to_dict() if result.record else None,
                "note": result.note,
                "duplicate": result.duplicate,
            }
        )
    else:
        typer.echo(f"{slug}: {result.note} (desired state {result.tenant.desired_state})")


@app.command("import")
def import_(
    file: str = typer.Argument(
        ...,
        help='Newline-delimited JSON, one event a line: {"tenant", "event", "at", "plan"?,'
        ' "id"?, "data"?}; "-" reads stdin.',
    ),
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Import billing events in bulk, all or nothing (a bad line changes nothing)."""
    if file == "-":
        lines = sys.stdin.read().splitlines()
        name = "stdin"
    else:
        path = Path(file)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read {file}: {exc}") from exc
        name = path.name
    with open_registry() as reg:
        results = reg.import_billing(lines, actor=actor(), name=name)
    duplicates = sum(1 for r in results if r.duplicate)
    summary = {"imported": len(results) - duplicates, "duplicates": duplicates}
    if output == OutputFormat.json:
        emit_json(summary)
    else:
        typer.echo(f"imported {summary['imported']} event(s), {duplicates} already recorded")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="billing")
