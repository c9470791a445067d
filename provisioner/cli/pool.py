"""`provisioner pool ...`: warm pools of ready-built instances (see provisioner.pools)."""

from __future__ import annotations

from typing import Any

import typer

from provisioner.cli.common import OUTPUT_OPTION, OutputFormat, emit_json, stderr_console
from provisioner.cli.serve import DATABASE_URL_OPTION
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
    database_url: str | None = DATABASE_URL_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Per pool: ready, building, target, the oldest ready instance's age, idle cost, the builds
    given up in the last day with the last error, and the recommended size (observed signup rate
    and build time, target cold-start probability)."""
    from datetime import UTC, datetime

    from provisioner.cli._registry import open_registry
    from provisioner.pools.idle_cost import instance_cost
    from provisioner.registry import pools

    now = datetime.now(UTC)
    rows = []
    with open_registry(database_url) as reg:
        found = pools.counts(reg, now=now)
        advice = {(c.location, c.plan): _sizing(reg, c.location, c.plan, now, target_cold)
                  for c in found}  # fmt: skip
    with stderr_console().status("pricing the pooled instances (offline plans)"):
        for pool in found:
            seen, recommended = advice[(pool.location, pool.plan)]
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
                    "bound": pool.bound,
                    "target": pool.target,
                    "failed_last_day": pool.failed_last_day,
                    "last_error": pool.last_error,
                    "oldest_ready_hours": None if age is None else round(age, 1),
                    # The ready instances' month from the cost model; a lower bound when the
                    # price snapshot leaves something unpriced ("complete": false), never 0.
                    "idle_cost_per_month": instance_cost(pool.location, pool.plan).idle(
                        pool.ready
                    ),
                    "recommended": recommended.size,
                    "recommendation": {
                        **recommended.to_dict(),
                        "observed_signups": seen.signups,
                        "observed_builds": seen.builds,
                    },
                }
            )
    if output == OutputFormat.json:
        emit_json({"pools": rows})
        return
    _print_status(rows)


def _print_status(rows: list[dict[str, Any]]) -> None:
    from provisioner.cli._registry import print_table

    if not rows:
        typer.echo("no warm pools: `provisioner pool fill LOCATION` starts one")
        return

    def cost(idle: dict[str, Any]) -> str:
        return f"{'' if idle['complete'] else 'at least '}${idle['usd']:,.2f}"

    print_table(
        "warm pools",
        ("location", "plan", "ready", "building", "target", "oldest ready (h)", "idle cost/month",
         "failed (24 h)", "recommended"),
        (
            (r["location"], r["plan"], r["ready"], r["building"], r["target"],
             r["oldest_ready_hours"], cost(r["idle_cost_per_month"]), r["failed_last_day"],
             r["recommended"])
            for r in rows
        ),
    )  # fmt: skip
    for r in rows:
        if r["last_error"]:
            typer.echo(f"{r['location']}/{r['plan']}: last error: {r['last_error']}")


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
    database_url: str | None = DATABASE_URL_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Keep a pool of ready instances in LOCATION; the workers build them."""
    from datetime import UTC, datetime

    from provisioner.cli._registry import open_registry
    from provisioner.registry import pools

    code, plan_name, now = _location(location), _plan(plan), datetime.now(UTC)
    with open_registry(database_url) as reg:
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
    database_url: str | None = DATABASE_URL_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Keep no ready instances in LOCATION: the workers recycle the ready ones (bound instances
    are tenants now and are not touched)."""
    from datetime import UTC, datetime

    from provisioner.cli._registry import open_registry
    from provisioner.registry import pools

    with open_registry(database_url) as reg:
        target = pools.set_target(reg, _location(location), _plan(plan), 0, now=datetime.now(UTC))
        ready = next(
            (c.ready for c in pools.counts(reg) if (c.location, c.plan) == (target.location,
                                                                             target.plan)),
            0,
        )  # fmt: skip
    _show_target(target, output, ready=ready)


def _show_target(target: Any, output: OutputFormat, *, ready: int | None = None) -> None:
    data = {"location": target.location, "plan": target.plan, "target": target.target,
            "max_idle_hours": target.max_idle_hours}  # fmt: skip
    if ready is not None:
        data["ready_to_recycle"] = ready  # drain: what the workers will destroy
    if output == OutputFormat.json:
        emit_json(data)
    elif target.target == 0:
        typer.echo(
            f"pool {target.location}/{target.plan} drained: the workers recycle its"
            f" {_instances(ready or 0)} ready now; bound instances are tenants and stay"
        )
    else:
        typer.echo(
            f"pool {target.location}/{target.plan}: the workers keep {_instances(target.target)}"
            f" ready, each recycled after {target.max_idle_hours:g} h idle"
        )


def _instances(n: int) -> str:
    return f"{n} instance{'' if n == 1 else 's'}"


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
    from provisioner.cli._registry import print_table

    # One row per figure: the keys are the JSON's, the table stays readable at 80 columns.
    print_table("pool simulation", ("figure", "value"), list(result.to_dict().items()))


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="pool")
