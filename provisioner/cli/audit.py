"""`provisioner audit SLUG|--all [--deleted]`: hold the live account to the published promises.

Exit 0 when everything passes, 1 on any finding (or any remnant with --deleted), 2 for bad
input, 3 when AWS cannot be reached or there are no credentials. `--location` is needed only
for a tenant the registry does not know.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import typer

from provisioner.cli.common import OUTPUT_OPTION, OutputFormat, emit_json, parse_at
from provisioner.errors import EXIT_FAILED, UsageError

if TYPE_CHECKING:
    from provisioner.audit.model import Target
    from provisioner.registry import Tenant

_REGION_RE = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]")
LOCATION_OPTION = typer.Option(
    None,
    "--location",
    "-l",
    help="Signup location (us, uk, ie, de, au, sg, jp, in); only needed when the registry does"
    " not know the tenant.",
)


def resolve_target(slug: str, location: str | None) -> tuple[Target, Tenant | None]:
    """The tenant to act on and its registry record (None when the registry does not know it);
    the same rules as the stack commands (provisioner.resolve), without asking for a plan."""
    from provisioner.audit.model import Target
    from provisioner.resolve import resolve

    resolved = resolve(slug, location, need_plan=False)
    tenant = resolved.tenant
    instance_id = (tenant.instance_id or "") if tenant is not None else ""
    return Target(slug, resolved.location, instance_id), tenant


def print_table(title: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """A rich table whose cells fold instead of truncating: an ARN must be readable whole."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_edge=False, header_style="bold")
    for name in columns:
        table.add_column(name, overflow="fold")
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    Console().print(table)


def _print_report(report: dict[str, Any]) -> None:
    title = f"audit {report['tenant']} ({report['location']}, {report['region']})"
    if report["findings"]:
        rows = [(f["promise"], f["rule"], f["arn"], f["message"]) for f in report["findings"]]
        print_table(title, ("promise", "rule", "resource", "finding"), rows)
    checks = sum(len(arns) for arns in report["checked"].values())
    verdict = "PASS" if report["passed"] else f"FAIL: {len(report['findings'])} finding(s)"
    typer.echo(f"{report['tenant']}: {verdict} ({checks} checks on {len(report['checked'])} rules)")


def _print_proof(proof: dict[str, Any]) -> None:
    if proof["remnants"]:
        rows = [(r["region"], r["kind"], r["arn"], r["detail"]) for r in proof["remnants"]]
        print_table(
            f"remnants of {proof['tenant']}", ("region", "kind", "resource", "detail"), rows
        )
    keys = ", ".join(
        f"{k['region']}: {k['state']} {k['deletion_date']}".strip() for k in proof["keys"]
    )
    locked = [p for p in proof.get("pending", []) if p["kind"] == "backup:recovery-point"]
    if locked:  # unreadable already (their keys are going); deleted by their lifecycle
        print_table(
            f"locked recovery points of {proof['tenant']} (keys pending deletion)",
            ("region", "recovery point", "expires"),
            [(p["region"], p["arn"], p["deletion_date"] or "?") for p in locked],
        )
    verdict = "DELETED" if proof["passed"] else f"NOT DELETED: {len(proof['remnants'])} remnant(s)"
    typer.echo(f"{proof['tenant']}: {verdict}; keys: {keys or 'none left'}")


def audit(
    slug: str | None = typer.Argument(None, help="Tenant slug (or --all)."),
    location: str | None = LOCATION_OPTION,
    all_tenants: bool = typer.Option(False, "--all", help="Every tenant in the registry."),
    deleted: bool = typer.Option(
        False,
        "--deleted",
        help="Prove deletion instead: nothing of the tenant remains and its key is pending"
        " deletion; a passing proof is stored in the registry as deletion evidence.",
    ),
    sweep: list[str] | None = typer.Option(
        None,
        "--residency-region",
        help="Limit the residency sweep to this region (repeatable). Default: every region"
        " enabled on the account.",
    ),
    jobs: int = typer.Option(
        4, "--jobs", "-j", min=1, max=32, help="Tenants audited at once with --all."
    ),
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Audit a tenant's live AWS resources against the promises (exit 1 on any finding)."""
    if all_tenants == (slug is not None):
        raise UsageError("give a tenant SLUG or --all, not both or neither")
    if all_tenants and location:
        raise UsageError("--location applies to one tenant: drop it with --all")
    for region in sweep or []:
        if not _REGION_RE.fullmatch(region):
            raise UsageError(f"--residency-region {region!r} is not an AWS region name")
    from provisioner.audit import batch

    if slug is not None:
        work = [resolve_target(slug, location)]
    else:
        from provisioner.cli._registry import open_registry

        with open_registry() as reg:
            work = batch.targets(reg.list_tenants(), deleted=deleted)
    at = parse_at(None)
    results = batch.run(work, deleted=deleted, sweep=sweep or None, at=at, jobs=jobs)
    if deleted:
        from provisioner.cli._registry import actor, open_registry

        proofs = [(r, tenant) for r, (_, tenant) in zip(results, work, strict=True)]
        batch.store_evidence(proofs, open_registry, actor())
    passed = all(r["passed"] for r in results)
    if output is OutputFormat.json:
        emit_json(results[0] if slug is not None else {"passed": passed, "tenants": results})
    else:
        for result in results:
            (_print_proof if deleted else _print_report)(result)
        if not results:
            typer.echo("no tenants to audit in the registry")
    if not passed:
        raise typer.Exit(code=EXIT_FAILED)


def register(app: typer.Typer) -> None:
    app.command("audit")(audit)
