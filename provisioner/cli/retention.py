"""`provisioner retention plan|apply`: the legal retention clock, run at any instant (`--at`)."""

from __future__ import annotations

import typer

from provisioner.cli._registry import actor, open_registry, print_table
from provisioner.cli.common import OUTPUT_OPTION, OutputFormat, emit_json, parse_at
from provisioner.errors import UsageError

app = typer.Typer(
    help="The retention rules: what is due, and recording it as desired states.",
    no_args_is_help=True,
)

AT_OPTION = typer.Option(
    None, "--at", help="The instant to evaluate at (ISO 8601, UTC if no zone); default now."
)
_MAX_UPCOMING_DAYS = 3660  # ten years: beyond the longest rule (billing, 7 years)


@app.command("plan")
def plan(
    at: str | None = AT_OPTION,
    upcoming: int | None = typer.Option(
        None, "--upcoming", help="Also list actions coming due within this many days."
    ),
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """The actions due (suspend, close, delete, purge-billing); changes nothing."""
    from datetime import timedelta

    from provisioner.retention import iso

    when = parse_at(at)
    if upcoming is not None and not 0 <= upcoming <= _MAX_UPCOMING_DAYS:
        raise UsageError(f"--upcoming {upcoming} is out of range: use 0-{_MAX_UPCOMING_DAYS} days")
    window = timedelta(days=upcoming) if upcoming else None
    with open_registry() as reg:
        actions = reg.retention_plan(when, upcoming=window)
    if output == OutputFormat.json:
        emit_json({"at": iso(when), "actions": [a.to_dict() for a in actions]})
        return
    rows = (
        (iso(a.due), a.tenant, a.action + (f" (held: incident {a.held_by})" if a.held_by else ""),
         a.rule, a.reason)
        for a in actions
    )  # fmt: skip
    print_table(f"retention at {iso(when)}", ("due", "tenant", "action", "rule", "reason"), rows)


@app.command("apply")
def apply(
    at: str | None = AT_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Record the due actions as desired states (the reconciler carries them out). Idempotent."""
    from provisioner.registry.incidents import purge_notice_contacts
    from provisioner.retention import iso

    when = parse_at(at)
    with open_registry() as reg:
        result = reg.retention_apply(when, actor=actor())
        purged = purge_notice_contacts(reg, when)  # deleted tenants' contacts past their keep
    if output == OutputFormat.json:
        emit_json({**result.to_dict(), "notice_contacts_purged": purged})
        return
    rows = ((iso(a.due), a.tenant, a.action, a.rule) for a in result.applied)
    print_table(f"applied at {iso(when)}", ("due", "tenant", "action", "rule"), rows)
    typer.echo(f"{len(result.applied)} action(s) applied")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="retention")
