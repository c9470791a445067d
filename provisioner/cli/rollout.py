"""`provisioner rollout start|status|pause|resume|abort|simulate`: move the fleet to a release
in waves (canaries, one tenant per change group, trials, paid tenants region by region in
growing batches), baking and checking health between waves, halting on the error budget.

The workers (`provisioner worker`) advance rollouts: any number of them, any of them killed at
any point. `simulate` runs the same controller with a simulated engine and a virtual clock.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

import typer

from provisioner.cli._registry import actor, open_registry, print_table
from provisioner.cli.common import OUTPUT_OPTION, OutputFormat, emit_json, stderr_console
from provisioner.errors import UsageError
from provisioner.rollout.strategy import DEFAULT_IN_FLIGHT, DEFAULT_WAVES

app = typer.Typer(
    name="rollout",
    help="Roll a release across the fleet in waves; watch, pause, resume or abort it.",
    no_args_is_help=True,
)

WAVES_OPTION = typer.Option(
    DEFAULT_WAVES, "--waves", help="Stages in order: canary, groups, trials, paid batches (1%,...)."
)
BAKE_OPTION = typer.Option("30m", "--bake", help="Wait after each wave before the next (30m, 1h)")
BUDGET_OPTION = typer.Option(
    "0", "--error-budget", help="Failed tenants a wave may have: a count (2) or a share (5%)."
)


def _locations() -> list[str]:
    from provisioner.regions import catalogue

    return sorted(catalogue().locations)


def _webhook_url() -> str | None:
    return os.environ.get("PROVISIONER_WEBHOOK_URL") or None


@app.command("start")
def start(
    release: int = typer.Argument(..., help="The release id (`provisioner release list`)."),
    waves: str = WAVES_OPTION,
    bake: str = BAKE_OPTION,
    error_budget: str = BUDGET_OPTION,
    region_order: str = typer.Option(
        "", "--region-order", help="Location codes whose paid tenants go first: de,ie,uk"
    ),
    in_flight: int = typer.Option(
        DEFAULT_IN_FLIGHT, "--in-flight", help="Tenants updating at once per location."
    ),
    ignore_windows: bool = typer.Option(
        False, "--ignore-windows", help="Do not wait for maintenance windows (needs --reason)."
    ),
    approve_dangerous: str | None = typer.Option(
        None, "--approve-dangerous", help="Start despite a dangerous change; the reason why."
    ),
    no_plan: bool = typer.Option(
        False, "--no-plan", help="Skip `fleet plan`: groups by location and plan, no danger check."
    ),
    reason: str = typer.Option("", "--reason", help="Why (recorded; required with overrides)."),
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Start rolling RELEASE out to every tenant not on it."""
    from provisioner.registry import rollouts
    from provisioner.rollout import service
    from provisioner.rollout.changes import ChangePlanner, ClassChanges, FleetChanges
    from provisioner.rollout.strategy import Strategy

    if ignore_windows and not reason.strip():
        raise UsageError("--ignore-windows needs --reason (e.g. the security fix it ships)")
    if approve_dangerous is not None and not approve_dangerous.strip():
        raise UsageError("--approve-dangerous needs a reason: --approve-dangerous 'why'")
    if no_plan and not reason.strip():
        raise UsageError("--no-plan skips the danger check: say why with --reason")
    strategy = Strategy.parse(waves, bake, error_budget, region_order, in_flight, ignore_windows,
                              _locations())
    with open_registry() as reg:
        planner: ChangePlanner
        if no_plan:
            planner = ClassChanges({t.slug: (t.location, t.plan) for t in reg.list_tenants()})
        else:
            stderr_console().print("planning the change with `fleet plan` ...")
            planner = FleetChanges(None)  # the same registry: the environment names it
        rollout_id = service.start(
            reg, release, strategy, planner=planner, actor=actor(), reason=reason.strip(),
            approve_dangerous=approve_dangerous, now=datetime.now(UTC),
            webhook_url=_webhook_url(),
        )
        summary = rollouts.get_rollout(reg, rollout_id)
    if output is OutputFormat.json:
        emit_json(summary.to_dict())
        return
    typer.echo(
        f"rollout {rollout_id} of release {release} started: {sum(summary.counts.values())}"
        f" tenant(s) in {len(summary.waves)} wave(s); workers advance it"
        f" (`provisioner rollout status {rollout_id}`)"
    )


@app.command("status")
def status(
    rollout_id: int | None = typer.Argument(None, help="A rollout id; none: every rollout."),
    tenants: bool = typer.Option(False, "--tenants", help="List every tenant of the rollout."),
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Where a rollout is: state, waves, failing tenants, history (or a list of rollouts)."""
    from provisioner.registry import rollouts

    with open_registry() as reg:
        if rollout_id is None:
            found = [s.to_dict() for s in rollouts.list_rollouts(reg)]
            if output is OutputFormat.json:
                emit_json(found)
                return
            print_table(None, ("id", "release", "state", "wave", "tenants", "halt reason"), (
                (r["id"], r["release"], r["state"], r["current_wave"],
                 " ".join(f"{k}={v}" for k, v in r["tenants"].items() if v), r["halt_reason"])
                for r in found
            ))
            return
        data: dict[str, Any] = rollouts.get_rollout(reg, rollout_id).to_dict()
        data["events"] = rollouts.rollout_history(reg, rollout_id)
        if tenants:
            data["tenant_list"] = rollouts.rollout_tenant_rows(reg, rollout_id)
    if output is OutputFormat.json:
        emit_json(data)
        return
    typer.echo(
        f"rollout {data['id']}: release {data['release']}, {data['state']}, wave"
        f" {data['wave'] + 1}/{len(data['waves'])} ({data['current_wave']})"
    )
    if data["halt_reason"]:
        typer.echo(f"halted: {data['halt_reason']}; failing: {', '.join(data['failing'])}")
    print_table("waves", ("#", "name", "tenants", "status"), (
        (w["index"] + 1, w["name"], w["tenants"],
         " ".join(f"{k}={v}" for k, v in sorted(w.get("status", {}).items())))
        for w in data["waves"]
    ))
    print_table("events", ("at", "kind", "actor", "reason"), (
        (e["at"], e["kind"], e["actor"], e["reason"]) for e in data["events"][-20:]
    ))
    if tenants:
        print_table("tenants", ("slug", "wave", "status", "reason"), (
            (t["slug"], t["wave"] + 1, t["status"], t["reason"]) for t in data["tenant_list"]
        ))


def _operate(verb: str, rollout_id: int, reason: str, output: OutputFormat) -> None:
    from provisioner.registry import rollouts

    with open_registry() as reg:
        summary = rollouts.operate(reg, rollout_id, verb, actor=actor(), reason=reason,
                                   now=datetime.now(UTC), webhook_url=_webhook_url())
    if output is OutputFormat.json:
        emit_json(summary.to_dict())
    else:
        typer.echo(f"rollout {rollout_id}: {summary.state}")


REASON_OPTION = typer.Option("", "--reason", help="Why (recorded in the rollout's events).")


@app.command("pause")
def pause(rollout_id: int = typer.Argument(...), reason: str = REASON_OPTION,
          output: OutputFormat = OUTPUT_OPTION) -> None:
    """Start nothing more; updates already running finish."""
    _operate("pause", rollout_id, reason, output)


@app.command("resume")
def resume(rollout_id: int = typer.Argument(...), reason: str = REASON_OPTION,
           output: OutputFormat = OUTPUT_OPTION) -> None:
    """Continue a paused or halted rollout (a halted wave's failures so far are accepted)."""
    _operate("resume", rollout_id, reason, output)


@app.command("abort")
def abort(rollout_id: int = typer.Argument(...), reason: str = REASON_OPTION,
          output: OutputFormat = OUTPUT_OPTION) -> None:
    """Stop for good; updated tenants stay (roll back: `rollout start PREVIOUS_RELEASE`)."""
    _operate("abort", rollout_id, reason, output)


@app.command("simulate")
def simulate(
    tenants: int | None = typer.Option(
        None, "--tenants", min=1, help="A synthetic fleet of N tenants (default 1000)."
    ),
    registry: bool = typer.Option(False, "--registry", help="Simulate the registry's tenants."),
    failure_rate: float = typer.Option(0.0, "--failure-rate", min=0.0, max=1.0),
    update_minutes: str = typer.Option("4..8", "--update-minutes", help="MIN..MAX per update."),
    region_cap: int = typer.Option(20, "--region-cap", min=1, help="Updates at once per region."),
    seed: int = typer.Option(0, "--seed"),
    waves: str = WAVES_OPTION,
    bake: str = BAKE_OPTION,
    error_budget: str = BUDGET_OPTION,
    region_order: str = typer.Option("", "--region-order"),
    windows: bool = typer.Option(
        False, "--windows", help="Respect maintenance windows (default: as --ignore-windows)."
    ),
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Run the rollout controller against a simulated engine and clock; print what happened."""
    from provisioner.rollout import simulate as sim
    from provisioner.rollout.strategy import Strategy

    low, _, high = update_minutes.partition("..")
    try:
        bounds = (float(low), float(high or low))
    except ValueError:
        raise UsageError(f"--update-minutes {update_minutes!r}: use MIN..MAX, e.g. 4..8") from None
    if not 0 < bounds[0] <= bounds[1]:
        raise UsageError("--update-minutes: need 0 < MIN <= MAX")
    strategy = Strategy.parse(waves, bake, error_budget, region_order,
                              in_flight=region_cap, ignore_windows=not windows,
                              known_locations=_locations())
    if registry and tenants is not None:
        # Either fleet, never both: a silently ignored --tenants would answer another question.
        raise UsageError("--tenants N or --registry: give one (the registry has its own count)")
    if registry:
        with open_registry() as reg:
            fleet = sim.registry_fleet(reg, windows)
    else:
        fleet = sim.synthetic_fleet(tenants or 1000, seed, windows)
    options = sim.SimulationOptions(strategy, failure_rate, bounds, region_cap, seed)
    result = sim.simulate(fleet, sim.class_groups(fleet), options)
    if output is OutputFormat.json:
        emit_json(result)
        return
    hours = (result["duration_s"] or 0) / 3600
    typer.echo(
        f"{result['tenants']} tenants: {result['updated']} updated, {result['failed']} failed,"
        f" {result['skipped']} skipped, {result['received']} received the release;"
        f" {'halted' if result['halted'] else 'finished'} after {hours:.1f} h"
    )
    if result["halted"]:
        typer.echo(f"halted: {result['halt_reason']}")
    print_table("waves", ("name", "tenants", "failed", "budget", "started h", "finished h"), (
        (w["name"], w["tenants"], w["failed"], w["budget"],
         None if w["started"] is None else f"{w['started'] / 3600:.2f}",
         None if w["finished"] is None else f"{w['finished'] / 3600:.2f}")
        for w in result["waves"]
    ))


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="rollout")
