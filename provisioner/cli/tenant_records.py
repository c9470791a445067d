"""`provisioner tenants create|list|show|suspend|resume`: the registry side of the tenant noun.

The stack side (preview, up, destroy, ...) lives in its own module; both hang off
`provisioner.cli.tenants.app` (`register(app)` adds these).
"""

from __future__ import annotations

from typing import Any

import typer

from provisioner.cli._registry import actor, open_registry, print_table
from provisioner.cli.common import OUTPUT_OPTION, OutputFormat, emit_json, parse_at
from provisioner.cli.serve import DATABASE_URL_OPTION

AT_OPTION = typer.Option(
    None, "--at", help="When it takes effect (ISO 8601, UTC if no zone); default now."
)
REASON_OPTION = typer.Option("", "--reason", help="Why, for the audit trail.")


def _summary(tenant: Any) -> list[Any]:
    from provisioner.retention import iso

    return [
        tenant.slug,
        tenant.location,
        tenant.plan,
        tenant.desired_state,
        tenant.observed_state or "-",
        iso(tenant.created_at),
    ]


def create(
    slug: str = typer.Argument(..., help="The tenant's name: a DNS label, 3-40 characters."),
    location: str = typer.Option(..., "--location", "-l", help="Signup location code or region."),
    plan: str = typer.Option(..., "--plan", "-p", help="trial, free, standard or enterprise."),
    trial_days: int | None = typer.Option(
        None, "--trial-days", help="Length of a trial (trial plan only); default 14."
    ),
    at: str | None = AT_OPTION,
    reason: str = REASON_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Register a tenant (desired state: active); the reconciler builds its stack."""
    from provisioner.registry import pools
    from provisioner.spec import TenantSpec

    spec = TenantSpec.create(slug, location, plan)
    when = parse_at(at)
    with open_registry() as reg:
        # Like a signup: a ready instance of the location's pool is bound in the same transaction.
        tenant = pools.create_tenant(
            reg, spec, actor=actor(), at=when, trial_days=trial_days, reason=reason
        )
    if output == OutputFormat.json:
        emit_json(tenant.to_dict())  # the record `tenants show` prints: instance_id set = pooled
    else:
        how = (
            f"pooled: the workers bind {tenant.instance_id}"
            if tenant.instance_id
            else "cold: the workers build its stack"
        )
        typer.echo(
            f"created {tenant.slug} in {tenant.location} ({tenant.region}), {tenant.plan} ({how})"
        )


def list_(
    state: str | None = typer.Option(
        None,
        "--state",
        help="Only tenants in this desired state: active, suspended, closed, deleted.",
    ),
    location: str | None = typer.Option(None, "--location", "-l", help="Only this location."),
    plan: str | None = typer.Option(None, "--plan", "-p", help="Only this plan."),
    created_since: str | None = typer.Option(
        None, "--created-since", help="Only tenants created at or after (ISO 8601, UTC if no zone)."
    ),
    database_url: str | None = DATABASE_URL_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Registered tenants, sorted by slug (tombstones included, with state "deleted")."""
    from provisioner.plans import get_plan

    code = None
    if location is not None:
        from provisioner.regions import catalogue

        code = catalogue().resolve(location).code
    since = parse_at(created_since, "--created-since") if created_since is not None else None
    with open_registry(database_url) as reg:
        found = reg.list_tenants(
            state=state,
            location=code,
            plan=get_plan(plan).name if plan is not None else None,
            created_since=since,
        )
    if output == OutputFormat.json:
        emit_json({"tenants": [t.to_dict() for t in found]})
        return
    columns = ("slug", "location", "plan", "desired", "observed", "created")
    print_table(None, columns, (_summary(t) for t in found))


def show(
    slug: str = typer.Argument(..., help="The tenant."),
    at: str | None = typer.Option(
        None, "--at", help="Show retention actions as of this instant (default now)."
    ),
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """One tenant: its record, its retention schedule and its audit trail."""
    from provisioner import retention

    when = parse_at(at)
    from provisioner.registry.tenant_say import release_status

    with open_registry() as reg:
        tenant = reg.get_tenant(slug)
        events = reg.events(slug)
        releases = release_status(reg, slug, when)
    schedule = retention.scheduled(tenant.facts(), when)
    if output == OutputFormat.json:
        emit_json(
            {
                "tenant": tenant.to_dict(),
                "releases": releases,
                "retention": [a.to_dict() for a in schedule],
                "events": [e.to_dict() for e in events],
            }
        )
        return
    record = tenant.to_dict()
    print_table(f"tenant {slug}", ("field", "value"), sorted(record.items()))
    print_table("releases and rollouts", ("field", "value"), sorted(releases.items()))
    print_table(
        "retention schedule",
        ("due", "action", "rule", "reason"),
        ((a.to_dict()["due"], a.action, a.rule, a.reason) for a in schedule),
    )
    print_table(
        "events",
        ("at", "kind", "actor", "reason"),
        ((retention.iso(e.at), e.kind, e.actor, e.reason) for e in events),
    )


def _operator(verb: str, slug: str, at: str | None, reason: str, output: OutputFormat) -> None:
    when = parse_at(at)
    with open_registry() as reg:
        method = reg.suspend if verb == "suspend" else reg.resume
        tenant = method(slug, actor=actor(), at=when, reason=reason)
    if output == OutputFormat.json:
        emit_json(tenant.to_dict())
    else:
        typer.echo(f"{tenant.slug}: desired state {tenant.desired_state}")


def suspend(
    slug: str = typer.Argument(..., help="The tenant."),
    at: str | None = AT_OPTION,
    reason: str = REASON_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Suspend an active tenant (an operator's hold; only `resume` lifts it)."""
    _operator("suspend", slug, at, reason, output)


def resume(
    slug: str = typer.Argument(..., help="The tenant."),
    at: str | None = AT_OPTION,
    reason: str = REASON_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Lift an operator's suspension (refused while a retention rule keeps it suspended)."""
    _operator("resume", slug, at, reason, output)


def register(root: typer.Typer) -> None:
    """Add the registry commands to the shared `tenants` sub-app."""
    from provisioner.cli.tenants import app as tenants_app

    tenants_app.command("create")(create)
    tenants_app.command("list")(list_)
    tenants_app.command("show")(show)
    tenants_app.command("suspend")(suspend)
    tenants_app.command("resume")(resume)
