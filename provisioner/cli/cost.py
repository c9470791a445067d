"""`provisioner cost` (a tenant's or the fleet's monthly estimate) and `provisioner prices`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from provisioner.cli.common import OUTPUT_OPTION, OutputFormat, emit_json, stderr_console
from provisioner.errors import EnvironmentProblem, UsageError

prices_app = typer.Typer(
    help="The dated price snapshot estimates are made from.", no_args_is_help=True
)

USAGE_OPTION = typer.Option(
    None,
    "--usage",
    help="Usage file overriding the per-plan assumptions (same shape as"
    " provisioner/cost/usage.yaml).",
)
PRICES_OPTION = typer.Option(
    None,
    "--prices",
    help="Price snapshot to use (env PROVISIONER_PRICES_FILE); default: the one"
    " shipped with provisioner.",
)


def _plain(value: Any) -> str:
    """Text shown as is: rich would read "[gp3]" in a price key as markup and drop it."""
    from rich.markup import escape

    return escape(str(value))


def _money(value: float) -> str:
    return f"${value:,.2f}"


def _load(prices: Path | None, usage: Path | None) -> tuple[Any, Any]:
    from provisioner.cost.snapshot import load_snapshot
    from provisioner.cost.usage import load_usage

    return load_snapshot(prices), load_usage(usage)


def _extra_plans(paths: list[Path]) -> list[Any]:
    from provisioner.cost.fleet import ExtraPlan

    extras = []
    for path in paths:
        try:
            plan = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise UsageError(f"cannot read plan file {path}: {exc.strerror or exc}") from exc
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path} is not JSON: {exc}") from exc
        if not isinstance(plan, dict) or not isinstance(plan.get("resources"), list):
            raise UsageError(f"{path} is not a plan: it has no 'resources' list")
        usage_plan = str((plan.get("tenant") or {}).get("plan") or "standard")
        extras.append(ExtraPlan(name=path.stem, plan=plan, usage_plan=usage_plan))
    return extras


def _print_estimate(result: dict[str, Any]) -> None:
    from provisioner.cli._registry import print_table

    tenant = result["tenant"]
    title = (
        f"{tenant.get('slug', '')} · {tenant.get('location', '')} ({tenant.get('region', '')})"
        f" · {tenant.get('plan', '')}"
    )
    print_table(
        title,
        ("resource", "what", "quantity", "unit price", "per month"),
        (
            (
                line["resource"],
                _plain(line["what"]),
                _plain(f"{line['quantity']:,.4g} {line['unit']}"),
                f"${line['unit_usd']:g}",
                _money(line["monthly_usd"]),
            )
            for line in result["lines"]
        ),
    )
    if result["unpriced"]:
        print_table(
            "unpriced (not in the total)",
            ("resource", "what", "why"),
            ((u["resource"], _plain(u["what"]), _plain(u["reason"])) for u in result["unpriced"]),
        )
    bound = "at least " if not result["complete"] else ""
    typer.echo(
        f"total: {bound}{_money(result['monthly_usd'])}/month · {len(result['unpriced'])}"
        f" item(s) unpriced · prices as of {result['prices_date']}"
        f" · usage assumptions of plan {result['usage']['plan']}"
    )


def _print_fleet(result: dict[str, Any]) -> None:
    from provisioner.cli._registry import print_table

    print_table(
        "by location and plan",
        ("location", "plan", "tenants", "per tenant", "per month"),
        (
            (
                r["location"],
                r["plan"],
                r["tenants"],
                _money(r["per_tenant_usd"]),
                _money(r["monthly_usd"]),
            )
            for r in result["classes"]
        ),
    )
    for title, rows in (("by location", result["by_location"]), ("by plan", result["by_plan"])):
        print_table(
            title,
            (title.split()[-1], "tenants", "per month"),
            ((key, int(v["tenants"]), _money(v["monthly_usd"])) for key, v in rows.items()),
        )
    if result["extra"]:
        print_table(
            "other stacks",
            ("stack", "count", "per month"),
            ((e["name"], e["count"], _money(e["monthly_usd"])) for e in result["extra"]),
        )
    bound = "at least " if not result["complete"] else ""
    typer.echo(
        f"fleet: {result['tenants']} tenants, {bound}{_money(result['monthly_usd'])}/month"
        f" · {len(result['unpriced'])} item(s) unpriced (listed with -o json)"
        f" · prices as of {result['prices_date']}"
    )


def cost(
    slug: str | None = typer.Argument(
        None, help="Tenant slug (registered, or with --location/--plan)."
    ),
    location: str | None = typer.Option(
        None, "--location", "-l", help="Location code or AWS region."
    ),
    plan_name: str | None = typer.Option(
        None, "--plan", "-p", help="trial, free, standard or enterprise."
    ),
    fleet: bool = typer.Option(
        False, "--fleet", help="Estimate the whole fleet by location and plan."
    ),
    tenants: Path | None = typer.Option(
        None, "--tenants", help="Fleet from a tenants file (tenants.yaml)."
    ),
    registry: bool = typer.Option(
        False, "--registry", help="Fleet from the registry (the default)."
    ),
    extra_plan: list[Path] = typer.Option(
        [],
        "--extra-plan",
        help="Plan JSON of another stack to add to the fleet (a regional"
        " platform stack, a warm-pool instance); repeatable.",
    ),
    usage: Path | None = USAGE_OPTION,
    prices: Path | None = PRICES_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Monthly on-demand cost of a tenant's offline plan, resource by resource, or of the fleet.

    Every line names its price's source and date; what the snapshot cannot price is listed as
    unpriced and left out of the total (which is then a lower bound), never counted as zero."""
    if fleet:
        if slug or location or plan_name:
            raise UsageError("--fleet prices every tenant: drop the slug, --location and --plan")
        if tenants is not None and registry:
            raise UsageError("give --tenants FILE or --registry, not both")
        _cost_fleet(tenants, _extra_plans(extra_plan), usage, prices, output)
        return
    if tenants is not None or registry or extra_plan:
        raise UsageError("--tenants, --registry and --extra-plan go with --fleet")
    if slug is None:
        if location is None or plan_name is None:
            raise UsageError("give a tenant SLUG, or --location and --plan, or --fleet")
        from provisioner.spec import TenantSpec

        spec = TenantSpec.create("estimate", location, plan_name)
    else:
        from provisioner.cli.tenant_ops import resolve_spec

        spec = resolve_spec(slug, location, plan_name)
    snapshot, book = _load(prices, usage)
    from provisioner.cost.fleet import estimate_tenant_plan, synth_plan_of

    result = estimate_tenant_plan(
        synth_plan_of(spec.slug, spec.location.code, spec.plan.name), snapshot, book
    )
    _refuse_unplanned_overrides(usage, book.resources, result)
    if output is OutputFormat.json:
        emit_json(result)
    else:
        _print_estimate(result)


def _refuse_unplanned_overrides(
    usage: Path | None, overridden: Any, result: dict[str, Any]
) -> None:
    """A usage override naming no resource of the plan (a typo) would silently change nothing."""
    planned = {item["resource"] for key in ("lines", "unpriced", "free") for item in result[key]}
    unknown = sorted(set(overridden) - planned)
    if unknown:
        tenant = result.get("tenant") or {}
        raise UsageError(
            f"{usage}: resources {', '.join(unknown)} not in the {tenant.get('location')}/"
            f"{tenant.get('plan')} plan (its names: provisioner plan ... -o json)"
        )


def _cost_fleet(
    tenants: Path | None,
    extras: list[Any],
    usage: Path | None,
    prices: Path | None,
    output: OutputFormat,
) -> None:
    from provisioner.fleet.sources import read_tenants_file, registry_fleet
    from provisioner.paths import existing_database_url

    if tenants is None and existing_database_url(None) is None:
        # Opening it would create an empty registry and price "0 tenants at $0": a report that
        # looks fine for a machine that simply lacks the workers' database.
        raise EnvironmentProblem(
            "cost --fleet: no registry to read (PROVISIONER_DATABASE_URL is not set and the data"
            " directory has none): point PROVISIONER_DATABASE_URL at the workers' registry, or"
            " give --tenants FILE"
        )
    members = read_tenants_file(tenants) if tenants is not None else registry_fleet()
    snapshot, book = _load(prices, usage)
    from provisioner.cost.fleet import estimate_fleet

    console = stderr_console()

    def progress(location: str, plan: str) -> None:
        console.print(f"planning and pricing {location}/{plan} ...", highlight=False)

    result = estimate_fleet(members, snapshot, book, extra=extras, on_class=progress)
    if output is OutputFormat.json:
        emit_json(result)
    else:
        _print_fleet(result)


def _refuse_unknown_regions(asked: list[str], snapshot_regions_held: tuple[str, ...]) -> None:
    """A mistyped --region (or a location code such as `de`) is bad input, not an empty list."""
    from provisioner.cost.pricelist import snapshot_regions

    known = snapshot_regions()
    unknown = sorted(set(asked) - set(known) - set(snapshot_regions_held))
    if unknown:
        raise UsageError(
            f"--region {', '.join(unknown)}: not a region of the locations or the snapshot"
            f" ({', '.join(known)})"
        )


@prices_app.command("show")
def prices_show(
    region: list[str] = typer.Option(
        [], "--region", "-r", help="Only these AWS regions; repeatable."
    ),
    prices: Path | None = PRICES_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """List the snapshot's prices with their source and date."""
    from provisioner.cost.snapshot import load_snapshot

    snapshot = load_snapshot(prices)
    _refuse_unknown_regions(region, snapshot.regions)
    chosen = [p for p in snapshot.prices if not region or p.region in region]
    if output is OutputFormat.json:
        emit_json({**snapshot.to_dict(), "prices": [p.to_dict() for p in chosen]})
        return
    from provisioner.cli._registry import print_table

    print_table(
        f"prices as of {snapshot.prices_date} ({snapshot.path})",
        ("region", "key", "variant", "USD", "unit", "source (date)"),
        (
            (p.region, p.key, _plain(p.variant), f"{p.usd:g}", p.unit, _plain(p.cite()))
            for p in chosen
        ),
    )


@prices_app.command("refresh")
def prices_refresh(
    region: list[str] = typer.Option(
        [],
        "--region",
        "-r",
        help="Refresh only these AWS regions (default: every location's region"
        " and backup destination); repeatable.",
    ),
    out: Path | None = typer.Option(
        None,
        "--out",
        help="Where to write the snapshot (default: the one in use, updated in place).",
    ),
    prices: Path | None = PRICES_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Rebuild the snapshot from the AWS Price List API (needs AWS credentials).

    Asks GetProducts for each price the estimates use, in each region; a price the API does not
    return stays as it was. The file is replaced only when every query succeeded."""
    from provisioner.cost.pricelist import refresh_snapshot, snapshot_regions
    from provisioner.cost.snapshot import DEFAULT_PRICES, load_snapshot, write_snapshot

    old = load_snapshot(prices)
    _refuse_unknown_regions(region, old.regions)
    regions = region or snapshot_regions()
    console = stderr_console()
    snapshot, report = refresh_snapshot(
        old, regions, on_query=lambda r, k: console.print(f"{r}: {k}", highlight=False)
    )
    target = out or (Path(old.path) if old.path else DEFAULT_PRICES)
    write_snapshot(snapshot, target)
    summary = {"file": str(target), "regions": regions, **report}
    if output is OutputFormat.json:
        emit_json(summary)
    else:
        typer.echo(
            f"{target}: {report['found']} price(s) from the Price List API,"
            f" {report['missing']} not returned (kept as they were or unpriced)"
        )


def register(app: typer.Typer) -> None:
    app.command("cost")(cost)
    app.add_typer(prices_app, name="prices")
