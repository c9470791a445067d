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

_REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
LOCATION_OPTION = typer.Option(
    None,
    "--location",
    "-l",
    help="Signup location (us, uk, ie, de, au, sg, jp, in); only needed when the registry does"
    " not know the tenant.",
)


def resolve_target(slug: str, location: str | None) -> tuple[Target, Any]:
    """The tenant to act on and its registry record (None when the registry does not know it)."""
    from provisioner.audit.model import Target
    from provisioner.regions import catalogue
    from provisioner.spec import validate_slug

    validate_slug(slug)
    loc = catalogue().resolve(location) if location else None  # bad input fails before any I/O
    from provisioner.cli._registry import open_registry

    with open_registry() as reg:
        tenant = reg.find_tenant(slug)
    if tenant is not None:
        if loc is not None and loc.code != tenant.location:
            raise UsageError(
                f"tenant {slug!r} is in location {tenant.location!r} per the registry, not"
                f" {loc.code!r}: drop --location or fix it"
            )
        loc = catalogue().resolve(tenant.location)
    if loc is None:
        raise UsageError(
            f"tenant {slug!r} is not in the registry: give --location LOC (us, uk, ie, de, au,"
            " sg, jp, in)"
        )
    return Target(slug, loc, (tenant.instance_id or "") if tenant else ""), tenant


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
    verdict = "DELETED" if proof["passed"] else f"NOT DELETED: {len(proof['remnants'])} remnant(s)"
    typer.echo(f"{proof['tenant']}: {verdict}; keys: {keys or 'none left'}")


def _audit_one(target: Target, deleted: bool, sweep: list[str] | None) -> dict[str, Any]:
    from provisioner.audit import default_clients

    clients = default_clients()
    if not deleted:
        from provisioner.audit.runner import audit_tenant

        return audit_tenant(clients, target, regions=sweep).to_dict()
    from provisioner.audit.deletion import prove_deletion

    return prove_deletion(clients, target, parse_at(None)).to_dict()


def _store_evidence(proofs: list[tuple[dict[str, Any], Any]]) -> None:
    """Store each passing proof of a tenant the registry has decided to delete (a tombstone);
    mark every proof with whether it was stored. Done after the audits, from one thread."""
    storable = [
        (proof, tenant)
        for proof, tenant in proofs
        if proof["passed"] and tenant is not None and tenant.desired_state == "deleted"
    ]
    if storable:
        from provisioner.cli._registry import actor, open_registry

        with open_registry() as reg:
            for proof, tenant in storable:
                reg.record_deletion_evidence(tenant.slug, dict(proof), actor=actor())
    stored = {id(proof) for proof, _ in storable}
    for proof, _ in proofs:
        proof["stored"] = id(proof) in stored


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
    from provisioner.regions import catalogue

    for region in sweep or []:
        if not _REGION_RE.match(region):
            raise UsageError(f"--residency-region {region!r} is not an AWS region name")
    if slug is not None:
        target, tenant = resolve_target(slug, location)
        work = [(target, tenant)]
    else:
        from provisioner.audit.model import Target
        from provisioner.cli._registry import open_registry

        with open_registry() as reg:
            tenants = reg.list_tenants()
        work = [
            (Target(t.slug, catalogue().resolve(t.location), t.instance_id or ""), t)
            for t in tenants
            if (t.desired_state == "deleted") == deleted  # live: audit; tombstones: prove
        ]
    from concurrent.futures import ThreadPoolExecutor

    # Tenants are independent; each audit sweeps regions on its own small pool.
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(lambda item: _audit_one(item[0], deleted, sweep or None), work))
    if deleted:
        _store_evidence([(r, tenant) for r, (_, tenant) in zip(results, work, strict=True)])
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
