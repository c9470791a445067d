"""`provisioner pool ...`: warm pools of ready-built instances (see provisioner.pools)."""

from __future__ import annotations

from typing import Any

import typer

from provisioner.cli.common import OUTPUT_OPTION, OutputFormat, emit_json, stderr_console
from provisioner.errors import CheckFailed, UsageError

app = typer.Typer(
    help="Warm pools: ready-built instances per location, bound to a customer at signup.",
    no_args_is_help=True,
)

LOCATION_OPTION = typer.Option(..., "--location", "-l", help="Location code (regions.yaml).")
PLAN_OPTION = typer.Option("trial", "--plan", help="Plan of the pool's instances.")
TARGET_COLD_OPTION = typer.Option(
    0.01, "--target-cold", min=0.0001, max=0.5, help="Accepted probability of a cold start."
)


@app.command("bind-diff")
def bind_diff_command(
    location: str = LOCATION_OPTION,
    plan: str = typer.Option("trial", "--plan", help="Plan of the pooled instance."),
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """The offline diff of binding a pooled instance to a customer (exit 1 if it does more than
    tags, DNS and app configuration)."""
    from provisioner.pools.bind_diff import bind_diff

    with stderr_console().status(f"planning a pooled {plan} instance in {location}, twice"):
        result = bind_diff(location, plan)
    if output == OutputFormat.json:
        emit_json(result.to_dict())
    else:
        _print_bind_diff(result.to_dict())
    if result.violations:
        raise CheckFailed(
            f"binding a pooled instance in {result.location} does more than tags, DNS and app"
            f" configuration: {result.violations[0]}"
        )


def _print_bind_diff(data: dict[str, object]) -> None:
    from provisioner.cli._registry import print_table

    changes = data["changes"]
    assert isinstance(changes, dict)
    rows = []
    for action, entries in changes.items():
        for entry in entries:
            paths = ", ".join(sorted({str(c["path"]) for c in entry.get("changes", [])}))
            rows.append((action, entry["type"], entry["name"], paths))
    print_table(
        f"binding {data['instance_id']} ({data['location']}, {data['plan']}) to {data['slug']}",
        ("action", "type", "resource", "changed inputs"),
        rows,
    )
    counts = data["counts"]
    assert isinstance(counts, dict)
    summary = ", ".join(f"{n} {action}" for action, n in counts.items())
    verdict = "ok: tags, DNS and app configuration only" if data["ok"] else "NOT in place"
    typer.echo(f"{summary}: {verdict}")


def _location(code: str) -> str:
    from provisioner.regions import catalogue

    return catalogue().resolve(code).code


def _plan(name: str) -> str:
    from provisioner.plans import get_plan

    return get_plan(name).name


def _sizing(registry: Any, location: str, plan: str, now: Any, target_cold: float) -> Any:
    """The recommended size from the last week's signups and pooled build times."""
    from provisioner.pools.sizing import DEFAULT_BUILD_MINUTES, recommend
    from provisioner.registry import pools

    seen = pools.observed(registry, location, plan, now=now)
    build = seen.mean_build_minutes or DEFAULT_BUILD_MINUTES
    return seen, recommend(seen.signups / seen.hours, build, target_cold)


@app.command("status")
def status(
    target_cold: float = TARGET_COLD_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Per pool: ready, building, target, the oldest ready instance's age, idle cost, and the
    recommended size (observed signup rate and build time, target cold-start probability)."""
    from datetime import UTC, datetime

    from provisioner.cli._registry import open_registry, print_table
    from provisioner.registry import pools

    now = datetime.now(UTC)
    rows = []
    with open_registry() as reg:
        for pool in pools.counts(reg):
            seen, advice = _sizing(reg, pool.location, pool.plan, now, target_cold)
            age = (
                (now - pool.oldest_ready_at).total_seconds() / 3600
                if pool.oldest_ready_at
                else None
            )
            rows.append(
                {
                    "location": pool.location,
                    "plan": pool.plan,
                    "ready": pool.ready,
                    "building": pool.building,
                    "recycling": pool.recycling,
                    "target": pool.target,
                    "oldest_ready_hours": None if age is None else round(age, 1),
                    # No price model in this repository yet: unpriced, never 0.
                    "idle_cost_per_month": None,
                    "recommended": advice.size,
                    "recommendation": {
                        **advice.to_dict(),
                        "observed_signups": seen.signups,
                        "observed_builds": seen.builds,
                    },
                }
            )
    if output == OutputFormat.json:
        emit_json({"pools": rows})
        return
    print_table(
        "warm pools",
        ("location", "plan", "ready", "building", "target", "oldest ready (h)", "idle cost/month",
         "recommended"),
        (
            (r["location"], r["plan"], r["ready"], r["building"], r["target"],
             r["oldest_ready_hours"], "unpriced", r["recommended"])
            for r in rows
        ),
    )  # fmt: skip


@app.command("fill")
def fill(
    location: str = typer.Argument(..., help="Location code (regions.yaml)."),
    plan: str = PLAN_OPTION,
    size: int | None = typer.Option(
        None, "--size", min=1, max=1000, help="Ready instances to keep (default: recommended)."
    ),
    max_idle_hours: float | None = typer.Option(
        None, "--max-idle-hours", min=1.0, help="Recycle a ready instance idle this long (72)."
    ),
    target_cold: float = TARGET_COLD_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Keep a pool of ready instances in LOCATION; the workers build them."""
    from datetime import UTC, datetime

    from provisioner.cli._registry import open_registry
    from provisioner.registry import pools

    code, plan_name, now = _location(location), _plan(plan), datetime.now(UTC)
    with open_registry() as reg:
        if size is None:
            size = max(1, _sizing(reg, code, plan_name, now, target_cold)[1].size)
        target = pools.set_target(
            reg, code, plan_name, size, now=now, max_idle_hours=max_idle_hours
        )
    _show_target(target, output)


@app.command("drain")
def drain(
    location: str = typer.Argument(..., help="Location code (regions.yaml)."),
    plan: str = PLAN_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Keep no ready instances in LOCATION: the workers recycle the ready ones (bound instances
    are tenants now and are not touched)."""
    from datetime import UTC, datetime

    from provisioner.cli._registry import open_registry
    from provisioner.registry import pools

    with open_registry() as reg:
        target = pools.set_target(reg, _location(location), _plan(plan), 0, now=datetime.now(UTC))
    _show_target(target, output)


def _show_target(target: Any, output: OutputFormat) -> None:
    data = {"location": target.location, "plan": target.plan, "target": target.target,
            "max_idle_hours": target.max_idle_hours}  # fmt: skip
    if output == OutputFormat.json:
        emit_json(data)
    else:
        typer.echo(
            f"pool {target.location}/{target.plan}: target {target.target} ready instances"
            f" (recycled after {target.max_idle_hours:g} h idle); the workers build or recycle"
        )


def _build_range(value: str) -> tuple[float, float]:
    low, sep, high = value.partition("..")
    try:
        parsed = (float(low), float(high if sep else low))
    except ValueError:
        raise UsageError(f"--build-minutes {value!r}: use MIN..MAX, e.g. 10..20") from None
    if not 0 < parsed[0] <= parsed[1]:
        raise UsageError(f"--build-minutes {value!r}: use 0 < MIN <= MAX")
    return parsed


@app.command("simulate")
def simulate_command(
    signups_per_hour: float = typer.Option(
        ..., "--signups-per-hour", min=0.01, max=100_000, help="Poisson arrival rate."
    ),
    hours: float = typer.Option(24.0, "--hours", min=0.1, max=24 * 90, help="Simulated time."),
    pool_size: int | None = typer.Option(
        None, "--pool-size", min=0, max=10_000, help="Ready instances kept (0: no pool)."
    ),
    auto: bool = typer.Option(False, "--auto", help="The recommended size (the default)."),
    build_minutes: str = typer.Option("10..20", "--build-minutes", help="MIN..MAX, uniform."),
    bind_seconds: float = typer.Option(45.0, "--bind-seconds", min=0.0, max=3600.0),
    seed: int = typer.Option(1, "--seed"),
    target_cold: float = TARGET_COLD_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Run the real claim and refill logic against a simulated engine and clock."""
    from provisioner.pools.simulate import SimulationConfig, simulate

    if auto and pool_size is not None:
        raise UsageError("--pool-size and --auto exclude each other: give one")
    config = SimulationConfig(
        signups_per_hour=signups_per_hour,
        hours=hours,
        pool_size=pool_size,
        build_minutes=_build_range(build_minutes),
        bind_seconds=bind_seconds,
        seed=seed,
        target_cold=target_cold,
    )
    from rich.progress import Progress

    with Progress(console=stderr_console(), transient=True) as bar:
        task = bar.add_task("simulating", total=1.0)
        result = simulate(config, progress=lambda done: bar.update(task, completed=done))
    if output == OutputFormat.json:
        emit_json(result.to_dict())
        return
    data = result.to_dict()
    from provisioner.cli._registry import print_table

    print_table("pool simulation", tuple(data), [tuple(data.values())])


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="pool")
