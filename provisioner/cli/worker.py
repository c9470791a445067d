"""`provisioner worker [--concurrency N] [--once]`: reconcile tenants until stopped.

Claims tenants whose stack differs from the registry's desired state, runs the engine, records
the outcome (provisioner.worker). SIGINT/SIGTERM: stop claiming and let running operations
finish (a second signal exits at once; the leases then expire and another worker resumes).
Webhooks go to PROVISIONER_WEBHOOK_URL, signed with PROVISIONER_WEBHOOK_SECRET, when set.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import typer

from provisioner.cli.common import OUTPUT_OPTION, OutputFormat, emit_json
from provisioner.cli.serve import DATABASE_URL_OPTION
from provisioner.errors import ProvisionerError, UsageError

if TYPE_CHECKING:
    from provisioner.rollout.health import HealthCheck
    from provisioner.worker import StackEngine

log = logging.getLogger("provisioner.worker")


def _logging() -> None:
    from provisioner.redaction import RedactingFilter

    logging.basicConfig(
        level=os.environ.get("PROVISIONER_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for handler in logging.getLogger().handlers:  # credentials never reach the worker's log
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())


def _region_caps(values: list[str]) -> dict[str, int]:
    caps: dict[str, int] = {}
    for value in values:
        region, _, number = value.partition("=")
        if not region.strip() or not number.strip().isdigit() or int(number) < 1:
            raise UsageError(f"--region-cap {value!r}: use REGION=N, e.g. eu-central-1=2")
        caps[region.strip()] = int(number)
    return caps


def worker(
    concurrency: int = typer.Option(
        4, "--concurrency", "-c", min=1, max=256, help="Operations at once in this process."
    ),
    once: bool = typer.Option(False, "--once", help="Drain what is due now, then exit."),
    database_url: str | None = DATABASE_URL_OPTION,
    region_cap: list[str] = typer.Option(
        [], "--region-cap", help="REGION=N: at most N operations in REGION across all workers."
    ),
    default_region_cap: int | None = typer.Option(
        None, "--default-region-cap", min=1, help="Cap for regions without --region-cap."
    ),
    max_attempts: int = typer.Option(5, "--max-attempts", min=1, help="Then: failed."),
    lease_seconds: float = typer.Option(120.0, "--lease-seconds", min=5.0),
    backend: str | None = typer.Option(
        None, "--backend", help="Pulumi state backend (env PROVISIONER_BACKEND)."
    ),
    secrets_provider: str | None = typer.Option(
        None, "--secrets-provider", help="Secrets provider (env PROVISIONER_SECRETS_PROVIDER)."
    ),
    rollout_checks: str = typer.Option(
        "https,audit", "--rollout-checks", help="Health checks of rollout waves: https, audit."
    ),
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Reconcile tenants: create, update, suspend, resume and destroy their stacks."""
    from provisioner.engine import Engine
    from provisioner.rollout.health import checks_from
    from provisioner.rollout.release_engine import ReleasePulumiEngine

    caps = _region_caps(region_cap)
    engine = Engine(backend=backend, secrets_provider=secrets_provider)
    try:
        engine.check()
    except ProvisionerError as exc:  # every attempt will fail (and back off) until it is fixed
        _logging()
        log.warning("%s; attempts will be recorded as failed until this is fixed", exc)
    checks = checks_from(rollout_checks)
    run(
        ReleasePulumiEngine(engine),
        concurrency=concurrency,
        once=once,
        database_url=database_url,
        region_caps=caps,
        default_region_cap=default_region_cap,
        max_attempts=max_attempts,
        lease_seconds=lease_seconds,
        output=output,
        rollout_checks=checks,
    )


def run(
    engine: StackEngine,
    *,
    concurrency: int = 4,
    once: bool = False,
    database_url: str | None = None,
    region_caps: dict[str, int] | None = None,
    default_region_cap: int | None = None,
    max_attempts: int = 5,
    lease_seconds: float = 120.0,
    heartbeat_seconds: float | None = None,
    poll_seconds: float = 2.0,
    retry_base_seconds: float = 30.0,
    program_version: str | None = None,
    output: OutputFormat = OutputFormat.table,
    rollout_checks: Sequence[HealthCheck] = (),
) -> None:
    """Run a worker over `engine` until a signal (or, with `once`, until nothing is due)."""
    from provisioner.webhooks import WebhookConfig
    from provisioner.worker import WorkerSettings
    from provisioner.worker_service import default_program_version, serve

    _logging()
    settings = WorkerSettings(
        program_version=program_version or default_program_version(),
        concurrency=concurrency,
        lease_seconds=lease_seconds,
        heartbeat_seconds=heartbeat_seconds or lease_seconds / 4,
        poll_seconds=poll_seconds,
        max_attempts=max_attempts,
        retry_base_seconds=retry_base_seconds,
        region_caps=region_caps or {},
        default_region_cap=default_region_cap,
    )
    hooks = WebhookConfig.from_env()
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        if stop.is_set():
            log.warning("second signal: exiting now; held leases expire in %.0fs", lease_seconds)
            os._exit(130)
        log.info("signal %d: finishing running operations, claiming no more", signum)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    stats = serve(
        engine,
        settings,
        database_url=database_url,
        stop=stop,
        once=once,
        webhooks=hooks,
        rollout_checks=rollout_checks,
    )
    if output is OutputFormat.json:
        emit_json(stats.to_dict())
    else:
        typer.echo(
            f"claimed {stats.claimed}, succeeded {stats.succeeded}, retried {stats.retried},"
            f" failed {stats.gave_up}, lost {stats.lost}"
            + "".join(
                f"; pool {outcome}: " + ", ".join(f"{n} {kind}" for kind, n in kinds.items())
                for outcome, kinds in stats.pools.items()
                if kinds
            )
        )


def retry(
    slug: str = typer.Argument(..., help="The tenant's slug."),
    database_url: str | None = DATABASE_URL_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Give a failed tenant fresh attempts (after fixing what made it fail)."""
    from datetime import UTC, datetime

    from provisioner.cli._registry import actor
    from provisioner.registry import Registry, outcomes
    from provisioner.spec import validate_slug

    validate_slug(slug)
    with Registry.open(database_url) as registry:
        tenant = outcomes.retry(registry, slug, actor=actor(), now=datetime.now(UTC))
    if output is OutputFormat.json:
        emit_json(tenant.to_dict())
    else:
        typer.echo(f"{slug}: attempts reset; a worker will retry it ({tenant.desired_state})")


def register(app: typer.Typer) -> None:
    from provisioner.cli.tenants import app as tenants_app

    app.command("worker")(worker)
    tenants_app.command("retry")(retry)
