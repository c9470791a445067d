"""A worker process put together: the registry, the webhook dispatcher and the Worker, run until
stopped. `provisioner worker` parses its options, installs the signal handlers and renders the
result; everything else is here, so another entry point (a test, a service manager) runs the
same assembly.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from provisioner.redaction import redact
from provisioner.webhooks import Dispatcher, WebhookConfig
from provisioner.worker import StackEngine, Worker, WorkerSettings, WorkerStats, default_owner

if TYPE_CHECKING:
    from provisioner.pools.keeper import PoolKeeper
    from provisioner.registry import Registry
    from provisioner.rollout.health import HealthCheck

log = logging.getLogger("provisioner.worker")


def default_program_version() -> str:
    """The tenant program's version, the one workers reconcile towards."""
    from stacks.tenant_stack import PROGRAM_VERSION  # ~1 s: imports pulumi

    return PROGRAM_VERSION


def serve(
    engine: StackEngine,
    settings: WorkerSettings,
    *,
    database_url: str | None,
    stop: threading.Event,
    once: bool = False,
    webhooks: WebhookConfig | None = None,
    owner: str | None = None,
    rollout_checks: Sequence[HealthCheck] = (),
) -> WorkerStats:
    """Reconcile the registry at `database_url` until `stop` is set (with `once`, until nothing
    is due); deliveries go to `webhooks` when given; rollouts are advanced alongside, their waves
    judged by `rollout_checks`. Returns what the worker did."""
    from provisioner.registry import Registry
    from provisioner.rollout.ticker import RolloutTicker

    owner = owner or default_owner()
    with Registry.open(database_url) as registry:
        dispatcher = Dispatcher(registry, webhooks, owner=owner) if webhooks else None
        log.info(
            "worker %s: registry %s, concurrency %d, program %s%s",
            owner,
            registry.url,
            settings.concurrency,
            settings.program_version,
            f", webhooks to {redact(webhooks.url)}" if webhooks else "",  # a URL may hold a token
        )
        # Rollouts advance from every worker (one at a time per rollout, by a row lock).
        rollouts = RolloutTicker(
            registry, rollout_checks, settings.poll_seconds, webhooks, owner
        )
        rollouts.start(stop)
        try:
            keeper = _pool_keeper(registry, engine, settings, owner)
            worker = Worker(
                registry, engine, settings, owner=owner, webhooks=dispatcher, pools=keeper
            )
            return worker.run(stop, once=once)
        finally:
            rollouts.stop()


def _pool_keeper(
    registry: Registry, engine: StackEngine, settings: WorkerSettings, owner: str
) -> PoolKeeper:
    """The warm pools' keeper (provisioner.pools.keeper), sharing the worker's region caps."""
    from datetime import UTC, datetime

    from provisioner.pools.keeper import KeeperSettings, PoolKeeper

    return PoolKeeper(
        registry,
        engine,
        KeeperSettings(
            program_version=settings.program_version,
            region_cap=settings.region_cap,
            lease_seconds=settings.lease_seconds,  # extended by the worker's heartbeat
            retry_base_seconds=settings.retry_base_seconds,
            retry_cap_seconds=settings.retry_cap_seconds,
        ),
        owner=owner,
        clock=lambda: datetime.now(UTC),
    )
