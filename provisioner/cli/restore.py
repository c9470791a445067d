"""`provisioner restore SLUG --to ISO|--snapshot ID [--as NEW]`; `provisioner restore drill SLUG`.

A restore creates a new database (and volumes) next to the tenant's, in its own network, with
the same key and TLS settings, then checks it with the audit's rules (exit 1 on a finding).
A drill restores the latest snapshots into a scratch copy, checks and times it against the
8-hour promise, deletes it, and records the result in the registry's event log.
"""

from __future__ import annotations

from typing import Any

import typer

from provisioner.cli.audit import LOCATION_OPTION, resolve_target
from provisioner.cli.common import OUTPUT_OPTION, OutputFormat, emit_json, parse_at
from provisioner.errors import EXIT_FAILED, ProvisionerError, UsageError


def _record(slug: str, tenant: Any, verdict: str, data: dict[str, Any]) -> bool:
    """Append the drill's outcome to the tenant's event log; False when the tenant is unknown."""
    if tenant is None:
        return False
    from provisioner.cli._registry import actor, open_registry

    with open_registry() as reg:
        reg.record_event(slug, "restore-drill", actor=actor(), reason=verdict, data=data)
    return True


def _drill(slug: str, location: str | None, output: OutputFormat) -> None:
    target, tenant = resolve_target(slug, location)
    from provisioner.audit import default_clients
    from provisioner.audit.restore import drill

    try:
        result = drill(default_clients(), target, now=parse_at(None))
    except ProvisionerError as exc:  # a drill that could not run is a failed drill: record it
        _record(slug, tenant, f"failed: {exc}", {"passed": False, "error": str(exc)})
        raise
    report: dict[str, Any] = result.to_dict()
    verdict = "passed" if result.passed else "failed"
    reason = f"{verdict} in {result.duration_seconds:.1f} s"
    report["recorded"] = _record(slug, tenant, reason, result.to_dict())
    if output is OutputFormat.json:
        emit_json(report)
    else:
        minutes = result.duration_seconds / 60
        verdict = "PASS" if result.passed else "FAIL"
        typer.echo(
            f"{slug}: restore drill {verdict}: restored {report['restored']['source']} in"
            f" {minutes:.1f} min (promise: {result.objective_seconds // 3600} h);"
            f" scratch copy {'removed' if result.cleaned_up else 'NOT removed'};"
            f" {len(result.restored.findings)} finding(s)"
        )
        for finding in report["restored"]["findings"]:
            typer.echo(f"  {finding['rule']}: {finding['arn']}: {finding['message']}")
        if not report["recorded"]:
            typer.echo("  not recorded: the registry does not know this tenant", err=True)
    if not result.passed:
        raise typer.Exit(code=EXIT_FAILED)


def restore(
    words: list[str] = typer.Argument(
        ..., metavar="[drill] SLUG", help="Tenant slug, or 'drill SLUG'."
    ),
    to: str | None = typer.Option(None, "--to", help="Point in time (ISO 8601, UTC if naive)."),
    snapshot: str | None = typer.Option(
        None, "--snapshot", help="A DB snapshot id/ARN, or an EBS snapshot id (snap-...)."
    ),
    as_slug: str | None = typer.Option(
        None, "--as", help="Restore as a new tenant slug (t-NEW-db) instead of t-SLUG-db-rSTAMP."
    ),
    location: str | None = LOCATION_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Restore a tenant's database and volumes, or run a restore drill (`restore drill SLUG`)."""
    if len(words) == 2 and words[0] == "drill":
        if to or snapshot or as_slug:
            raise UsageError("a drill restores the latest snapshot: drop --to, --snapshot and --as")
        _drill(words[1], location, output)
        return
    if len(words) != 1:
        raise UsageError(
            "usage: provisioner restore SLUG --to ISO|--snapshot ID, or restore drill SLUG"
        )
    slug = words[0]
    if (to is None) == (snapshot is None):
        raise UsageError("give --to ISO or --snapshot ID, not both or neither")
    when = parse_at(to, "--to") if to is not None else None
    if when is not None and when > parse_at(None):
        raise UsageError(f"--to {to!r} is in the future: give a past instant (UTC if no zone)")
    if as_slug is not None:
        from provisioner.spec import validate_slug

        validate_slug(as_slug)
    target, _ = resolve_target(slug, location)
    if as_slug is not None:
        from provisioner.cli._registry import open_registry

        with open_registry() as reg:
            if reg.find_tenant(as_slug) is not None:
                raise UsageError(f"--as {as_slug!r} is an existing tenant: choose a new slug")
    from provisioner.audit import default_clients
    from provisioner.audit.restore import restore as run_restore

    result = run_restore(
        default_clients(), target, now=parse_at(None), to=when, snapshot=snapshot, as_slug=as_slug
    ).to_dict()
    if output is OutputFormat.json:
        emit_json(result)
    else:
        made = ", ".join(filter(None, [result["db_identifier"], *result["volumes"]]))
        typer.echo(f"{slug}: restored {result['source']} as {made}")
        for finding in result["findings"]:
            typer.echo(f"  {finding['rule']}: {finding['arn']}: {finding['message']}")
    if not result["passed"]:
        raise typer.Exit(code=EXIT_FAILED)


def register(root: typer.Typer) -> None:
    root.command("restore")(restore)
