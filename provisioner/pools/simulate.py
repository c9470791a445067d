"""`pool simulate`: the real signup claim and pool refill against a simulated engine and clock.

A throwaway SQLite registry runs on a virtual clock; signups arrive as a Poisson process and go
through the same `signup` transaction as the API (which claims a ready instance or falls back to
a cold build); after every event the workers' real `claim_jobs` decides what to build, and the
simulated engine finishes each build after a uniform random time in the build range, when
`finish_job` records it ready. A pooled signup is ready after the bind time, a cold one after a
full build. Nothing here sleeps: events are taken in time order from a heap.
"""

from __future__ import annotations

import heapq
import random
import statistics
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from provisioner.pools.sizing import DEFAULT_TARGET_COLD, recommend
from provisioner.regions import catalogue
from provisioner.registry import Registry
from provisioner.registry import pools as registry_pools
from provisioner.registry.signup import signup
from provisioner.spec import TenantSpec

_START = datetime(2026, 1, 5, tzinfo=UTC)  # any instant: only differences matter
_OWNER = "simulated-worker"
_PROGRAM = "simulated"


@dataclass(frozen=True)
class SimulationConfig:
    signups_per_hour: float
    hours: float = 24.0
    pool_size: int | None = None  # None: the recommended size (sizing.recommend)
    build_minutes: tuple[float, float] = (10.0, 20.0)
    bind_seconds: float = 45.0
    seed: int = 1
    location: str = "de"
    plan: str = "trial"
    target_cold: float = DEFAULT_TARGET_COLD

    def size(self) -> int:
        if self.pool_size is not None:
            return self.pool_size
        low, high = self.build_minutes
        return recommend(self.signups_per_hour, (low + high) / 2, self.target_cold).size


@dataclass(frozen=True)
class SimulationResult:
    signups: int
    pooled: int
    cold: int
    p50_ready_s: float
    p95_ready_s: float
    p99_ready_s: float
    pool_size: int
    idle_instance_hours: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "signups": self.signups,
            "pooled": self.pooled,
            "cold": self.cold,
            "p50_ready_s": round(self.p50_ready_s, 1),
            "p95_ready_s": round(self.p95_ready_s, 1),
            "p99_ready_s": round(self.p99_ready_s, 1),
            "pool_size": self.pool_size,
            "idle_instance_hours": round(self.idle_instance_hours, 1),
        }


class _VirtualClock:
    def __init__(self) -> None:
        self.now = _START

    def __call__(self) -> datetime:
        return self.now


def _percentile(values: list[float], q: int) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def validate(config: SimulationConfig) -> None:
    low, high = config.build_minutes
    if config.signups_per_hour <= 0 or config.hours <= 0:
        raise ValueError("signups per hour and hours must be positive")
    if not 0 < low <= high:
        raise ValueError("build minutes: MIN..MAX with 0 < MIN <= MAX")
    if config.bind_seconds < 0 or (config.pool_size is not None and config.pool_size < 0):
        raise ValueError("bind seconds and pool size must be 0 or more")


def simulate(
    config: SimulationConfig, progress: Callable[[float], None] | None = None
) -> SimulationResult:
    """Run one simulation; `progress` is called with the fraction of simulated time done."""
    validate(config)
    # In memory where the machine has a tmpfs: a simulated day is thousands of commits.
    scratch = "/dev/shm" if Path("/dev/shm").is_dir() else None
    with tempfile.TemporaryDirectory(prefix="pool-simulate-", dir=scratch) as folder:
        clock = _VirtualClock()
        with Registry.open(f"sqlite:///{Path(folder) / 'registry.db'}", clock=clock) as registry:
            return _Run(registry, clock, config, progress).run()


class _Run:
    def __init__(
        self,
        registry: Registry,
        clock: _VirtualClock,
        config: SimulationConfig,
        progress: Callable[[float], None] | None,
    ) -> None:
        self.registry, self.clock, self.config = registry, clock, config
        self.rand = random.Random(config.seed)
        self.progress = progress
        self.spec_location = config.location
        self.events: list[tuple[datetime, int, str, Any]] = []
        self.seq = 0
        self.ready_waits: list[float] = []
        self.pooled = self.cold = 0
        self.ready_now = 0  # ready instances, integrated over time for the idle hours
        self.idle_seconds = 0.0
        self.last_change = _START

    def _region_of(self, code: str) -> str:
        return catalogue().resolve(code).region

    def _push(self, at: datetime, kind: str, payload: Any = None) -> None:
        self.seq += 1
        heapq.heappush(self.events, (at, self.seq, kind, payload))

    def _build_time(self) -> timedelta:
        low, high = self.config.build_minutes
        return timedelta(minutes=self.rand.uniform(low, high))

    def _ready_changes(self, delta: int) -> None:
        now = self.clock.now
        self.idle_seconds += self.ready_now * (now - self.last_change).total_seconds()
        self.last_change = now
        self.ready_now += delta

    def _refill(self) -> None:
        """The workers' real decision: what to build now (every job here is a build)."""
        jobs = registry_pools.claim_jobs(
            self.registry,
            _OWNER,
            now=self.clock.now,
            limit=10_000,
            lease_seconds=24 * 3600.0,
            program_version=_PROGRAM,
            region_of=self._region_of,
        )
        for job in jobs:
            self._push(self.clock.now + self._build_time(), "built", job)

    def run(self) -> SimulationResult:
        config = self.config
        size = config.size()
        registry_pools.set_target(
            self.registry, config.location, config.plan, size, now=self.clock.now,
            max_idle_hours=config.hours + 24,  # no recycling inside the simulated window
        )  # fmt: skip
        # The pool is filled before signups open (`pool fill`): its builds finish at the start.
        for job in registry_pools.claim_jobs(
            self.registry, _OWNER, now=self.clock.now, limit=size or 1, lease_seconds=3600.0,
            program_version=_PROGRAM, region_of=self._region_of,
        ):  # fmt: skip
            registry_pools.finish_job(self.registry, job, now=self.clock.now,
                                      program_version=_PROGRAM)  # fmt: skip
            self.ready_now += 1
        end = _START + timedelta(hours=config.hours)
        at = _START + timedelta(hours=self.rand.expovariate(config.signups_per_hour))
        number = 0
        while at < end:
            number += 1
            self._push(at, "signup", number)
            at += timedelta(hours=self.rand.expovariate(config.signups_per_hour))
        while self.events:
            at, _, kind, payload = heapq.heappop(self.events)
            self.clock.now = at
            if kind == "signup":
                self._signup(int(payload))
                if self.progress is not None:
                    self.progress(min(1.0, (at - _START) / (end - _START)))
            else:
                registry_pools.finish_job(self.registry, payload, now=at,
                                          program_version=_PROGRAM)  # fmt: skip
                self._ready_changes(+1)
            if at <= end:
                self._refill()
        self.clock.now = max(self.clock.now, end)
        self._ready_changes(0)
        waits = self.ready_waits
        return SimulationResult(
            signups=len(waits),
            pooled=self.pooled,
            cold=self.cold,
            p50_ready_s=_percentile(waits, 50),
            p95_ready_s=_percentile(waits, 95),
            p99_ready_s=_percentile(waits, 99),
            pool_size=size,
            idle_instance_hours=self.idle_seconds / 3600.0,
        )

    def _signup(self, number: int) -> None:
        slug = f"sim-{number}"
        answer = signup(
            self.registry,
            TenantSpec.create(slug, self.config.location, self.config.plan),
            f"admin@{slug}.example",
            actor="simulation",
            key=None,
            request_hash="",
            render=lambda tenant: {"instance_id": tenant.instance_id},
            conflict=lambda exc: {"error": str(exc)},
        )
        if answer.body.get("instance_id"):
            self.pooled += 1
            self._ready_changes(-1)
            self.ready_waits.append(self.config.bind_seconds)
        else:
            self.cold += 1
            self.ready_waits.append(self._build_time().total_seconds())
