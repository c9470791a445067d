"""What the workers do for the warm pools: build instances up to each pool's target, bring ready
ones to the current program (they make the first canaries: no customer data), recycle the idle.

Binding is not here: a signup that claimed a pooled instance creates a tenant whose instance id
is the pooled one, and the ordinary tenant reconcile (provisioner.worker) runs its `up`, which on
an existing stack changes only tags, DNS and the app's configuration (`pool bind-diff`).

Jobs are leased rows of the registry (provisioner.registry.pools), so a worker killed mid-build
loses nothing: the lease expires and the next `step` anywhere takes the build over. While a job
runs, the worker's heartbeat thread extends its lease (`heartbeat`, the same beat that keeps the
tenants' leases), so a long build is never taken over from a live worker. A failed job backs off
like a tenant attempt (provisioner.reconcile.retry_delay), never a busy loop.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from provisioner import reconcile
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
    # A silent worker's pool job is taken over after this; a live one's heartbeat extends it
    # (the worker passes its own --lease-seconds, so tenants and pools share one rule).
    lease_seconds: float = 120.0
    max_jobs: int = 2  # pool jobs at once in this process (tenant work comes first)
    max_attempts: int = 5
    region_cap: Callable[[str], int | None] = field(default=lambda region: None)
    retry_base_seconds: float = 30.0  # a failed job waits ~15-30 s, doubling, as tenants do
    retry_cap_seconds: float = 3600.0
    rand: Callable[[], float] = random.random


def pooled_spec(job: PoolJob, regions: Catalogue) -> TenantSpec:
    return TenantSpec.for_pool(job.instance_id, regions.resolve(job.location), get_plan(job.plan))


@dataclass
class PoolStats:
    """What a pass of the keeper did, per job kind (build, update, recycle)."""

    succeeded: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, ok: bool) -> None:
        tally = self.succeeded if ok else self.failed
        tally[kind] = tally.get(kind, 0) + 1

    def to_dict(self) -> dict[str, dict[str, int]]:
        return {"failed": dict(sorted(self.failed.items())),
                "succeeded": dict(sorted(self.succeeded.items()))}  # fmt: skip


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
        self._held: set[str] = set()  # instance ids whose jobs run now (the heartbeat's list)
        self._held_lock = threading.Lock()

    def heartbeat(self) -> set[str]:
        """Extend the leases of the jobs running now; the instance ids whose lease was lost (taken
        over by another worker: that worker's result counts, ours is dropped)."""
        with self._held_lock:
            held = set(self._held)
        if not held:
            return set()
        kept = registry_pools.heartbeat(
            self.registry,
            self.owner,
            held,
            now=self._clock(),
            lease_seconds=self.settings.lease_seconds,
        )
        with self._held_lock:  # a job finished meanwhile released its lease itself
            lost = (held - kept) & self._held
        for instance_id in sorted(lost):
            log.warning("pool lease on %s was taken over by another worker", instance_id)
        return lost

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
        with self._held_lock:
            self._held.add(job.instance_id)
        try:
            return self._run(job, spec)
        finally:
            with self._held_lock:
                self._held.discard(job.instance_id)

    def _run(self, job: PoolJob, spec: TenantSpec) -> bool:
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
                retry_delay=self._retry_delay,
            )
            return False
        registry_pools.finish_job(
            self.registry, job, now=self._clock(), program_version=self.settings.program_version
        )
        log.info("pool %s of %s done", job.kind, job.instance_id)
        return True

    def _retry_delay(self, attempt: int) -> float:
        return reconcile.retry_delay(
            attempt,
            base=self.settings.retry_base_seconds,
            cap=self.settings.retry_cap_seconds,
            rand=self.settings.rand,
        )

    def step(self) -> int:
        """Claim and run what is due, one job after another; the number of jobs run."""
        jobs = self.claim()
        for job in jobs:
            self.run(job)
        return len(jobs)

    def run_due(self, stop: threading.Event | None = None) -> PoolStats:
        """`step` until nothing is due (or `stop`): one pass of everything the pools need now,
        what `provisioner worker --once` runs. Ends: a failed job backs off before it is due
        again, and a filled pool starts no build."""
        stats = PoolStats()
        while stop is None or not stop.is_set():
            jobs = self.claim()
            if not jobs:
                break
            for job in jobs:
                stats.add(job.kind, self.run(job))
        return stats

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
