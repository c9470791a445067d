"""What the workers do for the warm pools: build instances up to each pool's target, bring ready
ones to the current program (they make the first canaries: no customer data), recycle the idle.

Binding is not here: a signup that claimed a pooled instance creates a tenant whose instance id
is the pooled one, and the ordinary tenant reconcile (provisioner.worker) runs its `up`, which on
an existing stack changes only tags, DNS and the app's configuration (`pool bind-diff`).

Jobs are leased rows of the registry (provisioner.registry.pools), so a worker killed mid-build
loses nothing: the lease expires and the next `step` anywhere takes the build over.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from provisioner.errors import StackNotFound
from provisioner.plans import get_plan
from provisioner.regions import Catalogue, catalogue
from provisioner.registry import Registry
from provisioner.registry import pools as registry_pools
from provisioner.registry.pools import PoolJob
from provisioner.spec import TenantSpec

log = logging.getLogger("provisioner.pools")


class PoolEngine(Protocol):
    """The two engine verbs pools need (provisioner.worker.StackEngine has both)."""

    def up(self, spec: TenantSpec) -> Any: ...

    def destroy(self, spec: TenantSpec) -> Any: ...


@dataclass(frozen=True)
class KeeperSettings:
    program_version: str
    lease_seconds: float = 1800.0  # a build takes 10-20 minutes; the heartbeat is the next step
    max_jobs: int = 2  # pool jobs at once in this process (tenant work comes first)
    max_attempts: int = 5
    region_cap: Callable[[str], int | None] = field(default=lambda region: None)


def pooled_spec(job: PoolJob, regions: Catalogue) -> TenantSpec:
    return TenantSpec.for_pool(job.instance_id, regions.resolve(job.location), get_plan(job.plan))


class PoolKeeper:
    def __init__(
        self,
        registry: Registry,
        engine: PoolEngine,
        settings: KeeperSettings,
        *,
        owner: str,
        clock: Callable[[], datetime],
        regions: Catalogue | None = None,
    ) -> None:
        self.registry = registry
        self.engine = engine
        self.settings = settings
        self.owner = owner
        self._clock = clock
        self.regions = regions or catalogue()

    def claim(self, limit: int | None = None) -> list[PoolJob]:
        return registry_pools.claim_jobs(
            self.registry,
            self.owner,
            now=self._clock(),
            limit=self.settings.max_jobs if limit is None else limit,
            lease_seconds=self.settings.lease_seconds,
            program_version=self.settings.program_version,
            region_of=lambda code: self.regions.resolve(code).region,
            region_cap=self.settings.region_cap,
        )

    def run(self, job: PoolJob) -> bool:
        """Carry out one job through the engine and record it; False if it failed."""
        spec = pooled_spec(job, self.regions)
        try:
            if job.kind == "recycle":
                # A build that failed before creating anything leaves nothing to destroy.
                with contextlib.suppress(StackNotFound):
                    self.engine.destroy(spec)
            else:
                self.engine.up(spec)
        except Exception as exc:  # recorded on the row and retried at the next step
            message = " ".join(str(exc).split()) or type(exc).__name__
            log.warning("pool %s of %s failed: %s", job.kind, job.instance_id, message)
            registry_pools.finish_job(
                self.registry,
                job,
                now=self._clock(),
                error=f"{job.kind}: {message}",
                max_attempts=self.settings.max_attempts,
            )
            return False
        registry_pools.finish_job(
            self.registry, job, now=self._clock(), program_version=self.settings.program_version
        )
        log.info("pool %s of %s done", job.kind, job.instance_id)
        return True

    def step(self) -> int:
        """Claim and run what is due, one job after another; the number of jobs run."""
        jobs = self.claim()
        for job in jobs:
            self.run(job)
        return len(jobs)

    def loop(self, stop: threading.Event, poll_seconds: float) -> None:
        """`step` until `stop`: the thread `provisioner worker --pools` runs."""
        while not stop.is_set():
            try:
                ran = self.step()
            except Exception as exc:  # a database hiccup must not end the pools' thread
                log.error("pool step failed: %s", " ".join(str(exc).split()))
                ran = 0
            if not ran:
                stop.wait(poll_seconds)
