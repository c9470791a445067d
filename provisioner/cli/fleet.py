"""`provisioner fleet plan|preview`: what a change does to every tenant, in one report.

Thin: parse, call provisioner.fleet, render, exit. Exit codes: with --detailed-exitcode 0 no
changes, 4 changes, 5 dangerous changes; otherwise 0 (1 when the program cannot plan a tenant).
2 bad input, 3 environment (not a git repository, unknown ref, no Pulumi CLI for preview).
"""

from __future__ import annotations

import os
import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer

from provisioner.errors import UsageError

app = typer.Typer(
    help="Fleet previews for GitOps: what a change does to every tenant, in one comment.",
    no_args_is_help=True,
)


class ReportFormat(StrEnum):
    markdown = "markdown"
    json = "json"


BASE_OPTION = typer.Option(..., "--base", help="Git ref to compare with: origin/main, HEAD~1.")
TENANTS_OPTION = typer.Option(
    None, "--tenants", help="Tenants file kept in git (default: tenants.yaml at the root if"
    " present, else the registry)."
)
REGISTRY_OPTION = typer.Option(False, "--registry", help="Take the fleet from the registry.")
OUTPUT_OPTION = typer.Option(
    ReportFormat.markdown, "--output", "-o", help="markdown (a PR comment) or json."
)
JOBS_OPTION = typer.Option(None, "--jobs", "-j", help="Planning processes (default: CPU count).")
DETAILED_OPTION = typer.Option(
    False, "--detailed-exitcode", help="Exit 0 no changes, 4 changes, 5 dangerous changes."
)
CACHE_OPTION = typer.Option(
    None, "--cache-dir", help="Plan cache directory (default: <data dir>/plan-cache)."
)
NO_CACHE_OPTION = typer.Option(False, "--no-cache", help="Plan everything, read/write no cache.")
EXACT_OPTION = typer.Option(
    False, "--exact", help="Plan every tenant on its own (no verified per-class templates)."
)
REPO_OPTION = typer.Option(None, "--repo", help="The git checkout (default: current directory).")
MARGIN_OPTION = typer.Option(
    [], "--max-monthly-usd", help="PLAN=USD: a tenant of PLAN estimated above USD a month after"
    " the change makes it dangerous; repeatable."
)


def _options(
    base: str, tenants: Path | None, registry: bool, jobs: int | None, cache_dir: Path | None,
    no_cache: bool, exact: bool, repo: Path | None, margins: list[str] | None = None,
) -> Any:
    from provisioner.cost.delta import parse_margins
    from provisioner.fleet.planner import FleetOptions
    from provisioner.paths import data_dir

    if jobs is not None and jobs < 1:
        raise UsageError(f"--jobs {jobs}: use 1 or more processes")
    if tenants is not None and registry:
        raise UsageError("give --tenants FILE or --registry, not both")
    if not base.strip():
        raise UsageError("--base is empty: name a git ref such as origin/main or HEAD~1")
    cache = None if no_cache else (cache_dir or data_dir() / "plan-cache")
    return FleetOptions(
        repo=(repo or Path.cwd()).resolve(), base=base, tenants=tenants, registry=registry,
        jobs=jobs or os.cpu_count() or 1, cache_dir=cache, exact=exact,
        max_monthly_usd=parse_margins(margins or []),
    )


def _progress() -> Any:
    if not sys.stderr.isatty():
        return None
    return lambda message: typer.echo(f"fleet: {message}", err=True)


def _finish(report: dict[str, Any], output: ReportFormat, detailed: bool) -> None:
    from provisioner.fleet.render import exit_code, render_markdown, report_json

    if output is ReportFormat.json:
        sys.stdout.write(report_json(report))
    else:
        sys.stdout.write(render_markdown(report))
    code = exit_code(report, detailed)
    if code:
        raise typer.Exit(code=code)


def _stats_line(stats: dict[str, Any], seconds: float) -> None:
    typer.echo(
        f"fleet: {stats['tenants']} tenant(s), {stats['outcomes_cached']} from cache,"
        f" {stats.get('plans_run', 0)} plan(s) run, {stats.get('plans_templated', 0)} from"
        f" verified templates, {seconds:.1f}s"
        + (f" (planning {stats['planning_seconds']}s, diff and policy"
           f" {stats['outcome_seconds']}s)" if "outcome_seconds" in stats else "")
        + f", regional stacks planned at {stats.get('region_sides_planned', 0)} side(s)",
        err=True,
    )


@app.command("plan")
def plan(
    base: str = BASE_OPTION,
    tenants: Path | None = TENANTS_OPTION,
    registry: bool = REGISTRY_OPTION,
    output: ReportFormat = OUTPUT_OPTION,
    jobs: int | None = JOBS_OPTION,
    detailed_exitcode: bool = DETAILED_OPTION,
    cache_dir: Path | None = CACHE_OPTION,
    no_cache: bool = NO_CACHE_OPTION,
    exact: bool = EXACT_OPTION,
    repo: Path | None = REPO_OPTION,
    max_monthly_usd: list[str] = MARGIN_OPTION,
) -> None:
    """Plan every tenant offline at --base and in the working tree; report the differences."""
    from provisioner.fleet.planner import plan_fleet

    start = time.perf_counter()
    options = _options(base, tenants, registry, jobs, cache_dir, no_cache, exact, repo,
                       max_monthly_usd)
    report, stats = plan_fleet(options, _progress())
    _stats_line(stats, time.perf_counter() - start)
    _finish(report, output, detailed_exitcode)


@app.command("preview")
def preview(
    base: str = BASE_OPTION,
    tenants: Path | None = TENANTS_OPTION,
    registry: bool = REGISTRY_OPTION,
    output: ReportFormat = OUTPUT_OPTION,
    jobs: int | None = JOBS_OPTION,
    detailed_exitcode: bool = DETAILED_OPTION,
    cache_dir: Path | None = CACHE_OPTION,
    no_cache: bool = NO_CACHE_OPTION,
    exact: bool = EXACT_OPTION,
    repo: Path | None = REPO_OPTION,
    max_monthly_usd: list[str] = MARGIN_OPTION,
    concurrency: int = typer.Option(
        4, "--concurrency", help="Real previews running at once (each runs the Pulumi CLI)."
    ),
    backend: str | None = typer.Option(
        None, "--backend", help="State backend: s3://bucket/prefix (env PROVISIONER_BACKEND)."
    ),
    secrets_provider: str | None = typer.Option(
        None, "--secrets-provider", help="awskms://... (env PROVISIONER_SECRETS_PROVIDER)."
    ),
) -> None:
    """fleet plan, then a real `pulumi preview` of each changed tenant, folded into the report."""
    if concurrency < 1:
        raise UsageError(f"--concurrency {concurrency}: use 1 or more")
    options = _options(base, tenants, registry, jobs, cache_dir, no_cache, exact, repo,
                       max_monthly_usd)
    from provisioner.engine import Engine

    engine = Engine(backend=backend, secrets_provider=secrets_provider)
    engine.check()  # no Pulumi CLI: exit 3 with how to install it, before any planning
    from provisioner.fleet.planner import plan_fleet
    from provisioner.fleet.preview import preview_changed

    start = time.perf_counter()
    report, stats = plan_fleet(options, _progress())
    report["previews"] = preview_changed(engine, report, concurrency)
    _stats_line(stats, time.perf_counter() - start)
    _finish(report, output, detailed_exitcode)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="fleet")
