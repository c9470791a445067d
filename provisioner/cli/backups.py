"""`provisioner backups list|create SLUG`: a tenant's backups, and on-demand ones.

`list` shows database snapshots, EBS snapshots and AWS Backup recovery points in the tenant's
region and its backup region, with age, place and key. `create` starts AWS Backup jobs for the
database and the volumes into the vault the daily rule uses.
"""

from __future__ import annotations

import typer

from provisioner.cli.audit import LOCATION_OPTION, print_table, resolve_target
from provisioner.cli.common import OUTPUT_OPTION, OutputFormat, emit_json, parse_at

app = typer.Typer(help="List a tenant's backups or start on-demand ones.", no_args_is_help=True)


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


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="backups")
