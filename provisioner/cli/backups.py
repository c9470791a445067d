"""`provisioner backups list|create|retire-legacy SLUG`: a tenant's backups, on-demand ones, and
the retirement of the copy a stack kept from before the backup account.

`list` shows database snapshots, EBS snapshots and AWS Backup recovery points in the tenant's
region and its backup region, with age, place and key. `create` starts AWS Backup jobs for the
database and the volumes into the vault the daily rule uses.
"""

from __future__ import annotations

from datetime import datetime

import typer

from provisioner.cli._registry import actor, open_registry
from provisioner.cli.audit import LOCATION_OPTION, print_table, resolve_target
from provisioner.cli.common import OUTPUT_OPTION, OutputFormat, emit_json, parse_at

app = typer.Typer(help="List a tenant's backups, start on-demand ones, or retire the copy kept"
                  " from before the backup account.", no_args_is_help=True)


@app.command("list")
def list_(
    slug: str = typer.Argument(..., help="Tenant slug."),
    location: str | None = LOCATION_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Recovery points and snapshots, newest first, with age, region and encryption key."""
    target, _ = resolve_target(slug, location)
    from provisioner.audit import default_clients
    from provisioner.audit.backups import list_backups

    rows = list_backups(default_clients(), target, parse_at(None))
    if output is OutputFormat.json:
        emit_json({"tenant": slug, "backups": rows})
        return
    print_table(
        f"backups of {slug}",
        ("created", "age h", "kind", "region", "id", "key", "tenant key"),
        [
            (
                r["created"][:19],  # to the second: the age column says the rest
                r["age_hours"],
                r["kind"],
                r["region"],
                r["id"],
                r["kms_key"],
                "yes" if r["tenant_key"] else "NO",
            )
            for r in rows
        ],
    )


@app.command("create")
def create(
    slug: str = typer.Argument(..., help="Tenant slug."),
    location: str | None = LOCATION_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Start an on-demand AWS Backup job for the tenant's database and volumes."""
    target, _ = resolve_target(slug, location)
    from provisioner.audit import default_clients
    from provisioner.audit.backups import create_backups

    jobs = create_backups(default_clients(), target, parse_at(None))
    if output is OutputFormat.json:
        emit_json({"tenant": slug, "jobs": jobs})
        return
    for job in jobs:
        typer.echo(f"{job['job_id']}  {job['resource']} -> {job['vault']}")


def _next_update(slug: str) -> list[str]:
    """What the tenant's next update does once its old copy is retired, planned offline: the
    stack with and without it, diffed as `fleet plan` diffs."""
    import dataclasses

    from provisioner.fleet.diff import diff_plans, releases, retirements
    from provisioner.fleet.outcome import LEGACY_PURPOSE
    from provisioner.spec import TenantSpec
    from provisioner.synth import synth_plan

    with open_registry() as reg:
        tenant = reg.get_tenant(slug)
    spec = TenantSpec.create(slug, tenant.location, tenant.plan, instance_id=tenant.instance_id)
    changes = diff_plans(synth_plan(dataclasses.replace(spec, legacy_backup=True)),
                         synth_plan(spec))
    return releases(changes) + retirements(changes, frozenset({LEGACY_PURPOSE}))


@app.command("retire-legacy")
def retire_legacy(
    slug: str = typer.Argument(..., help="Tenant slug."),
    at: str | None = typer.Option(None, "--at", help="When (ISO 8601; default now)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check and show, change nothing."),
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Retire the backup copy a stack kept from before the backup account, once the new vault
    has held copies for the plan's retention (exit 1 before that, with the date)."""
    from provisioner.errors import CheckFailed, UsageError
    from provisioner.registry.legacy_backup import check_due, due, retire

    now = parse_at(at)
    if not dry_run and now > parse_at(None):
        # A future --at would retire the old copy before the new vault holds a retention's worth.
        raise UsageError(f"--at {at!r} is in the future: retiring takes effect now; add --dry-run"
                         " to see whether it would be due then")
    with open_registry() as reg:
        try:
            due_at = check_due(reg, slug, now)  # exit 1 (with the date) before it is due
        except CheckFailed:
            if output is OutputFormat.json:  # the date for machines too, then exit 1
                emit_json({"tenant": slug, "due": False, "retired": False,
                           "kept_until": _iso(due(reg, slug)[1]), "next_update": []})
            raise
    if due_at is None:
        _already_retired(slug, output)
        return
    until = due_at
    if output is OutputFormat.table:
        typer.echo(f"planning {slug} with and without its old copy ...", err=True)
    steps = _next_update(slug)
    if not dry_run:
        with open_registry() as reg:
            done = retire(reg, slug, now=now, actor=actor())
        if done is None:  # another run retired it meanwhile
            _already_retired(slug, output)
            return
        until = done.kept_until
    result = {"tenant": slug, "kept_until": until.isoformat(), "due": True,
              "retired": not dry_run, "next_update": steps}
    if output is OutputFormat.json:
        emit_json(result)
        return
    verb = "would retire" if dry_run else "retired"
    typer.echo(f"{slug}: {verb} its pre-backup-account copy (kept until {result['kept_until']});"
               " its next update:")
    for step in steps:
        typer.echo(f"  {step}")


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when else None


def _already_retired(slug: str, output: OutputFormat) -> None:
    """A second retirement changes nothing and succeeds, so a script may repeat it."""
    if output is OutputFormat.json:
        emit_json({"tenant": slug, "due": True, "retired": False, "already_retired": True,
                   "kept_until": None, "next_update": []})
    else:
        typer.echo(f"{slug}: its pre-backup-account copy was already retired: nothing to do")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="backups")
