"""The keeper inside a worker: `worker --once` does one pass of the pools too, and a running pool
job's lease is kept alive by the worker's heartbeat (a long build is never taken over from a live
worker), on each backend."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from provisioner.registry import Registry
from provisioner.registry import pools as registry_pools
from provisioner.registry.models import pool_instances
from provisioner.spec import TenantSpec
from provisioner.worker import Worker, WorkerSettings
from tests.pools.conftest import CountingEngine
from tests.pools.test_pools import PROGRAM, keeper, ready_count, sign_up
from tests.worker.conftest import Clock


def test_worker_once_refills_binds_and_recycles(registry: Registry, clock: Clock) -> None:
    engine = CountingEngine()
    registry_pools.set_target(registry, "de", "trial", 2, now=clock(), max_idle_hours=24)
    settings = WorkerSettings(program_version=PROGRAM, poll_seconds=0.01)

    def once() -> dict[str, Any]:
        pools = keeper(registry, engine, clock, max_jobs=2)
        return Worker(registry, engine, settings, clock=clock, pools=pools).run(once=True).to_dict()

    stats = once()
    assert stats["pools"] == {"failed": {}, "succeeded": {"build": 2}}
    assert ready_count(registry) == 2

    instance = sign_up(registry, "acme")["instance_id"]
    stats = once()  # the bind (tenant work) and the refill of the gap it left, in one pass
    assert stats["actions"] == {"create": 1} and stats["pools"]["succeeded"] == {"build": 1}
    assert registry.get_tenant("acme").observed_state == "active"
    assert ("up", f"tenant-{instance}") in engine.ops and ready_count(registry) == 2

    clock.advance(25 * 3600)  # idle too long: recycled and replaced in the same pass
    stats = once()
    assert stats["pools"]["succeeded"] == {"build": 2, "recycle": 2}
    assert ready_count(registry) == 2
    assert once()["pools"] == {"failed": {}, "succeeded": {}}  # nothing due: the pass ends


def test_a_running_build_keeps_its_lease_by_heartbeat(registry: Registry, clock: Clock) -> None:
    registry_pools.set_target(registry, "de", "trial", 1, now=clock())
    other = keeper(registry, CountingEngine(), clock, owner="other", lease_seconds=120)
    taken: list[Any] = []

    class SlowBuild(CountingEngine):
        def up(self, spec: TenantSpec) -> Any:
            for _ in range(10):  # a 20-minute build, beating every 2 minutes as the worker does
                clock.advance(119)
                assert live.heartbeat() == set()
                taken.extend(other.claim())
            return super().up(spec)

    live = keeper(registry, SlowBuild(), clock, owner="live", lease_seconds=120)
    assert live.step() == 1
    assert taken == []  # never taken over while the build ran
    assert ready_count(registry) == 1


def test_a_silent_workers_build_is_taken_over_and_its_heartbeat_says_so(
    registry: Registry, clock: Clock
) -> None:
    registry_pools.set_target(registry, "de", "trial", 1, now=clock())
    lost: list[set[str]] = []

    class StalledBuild(CountingEngine):
        def up(self, spec: TenantSpec) -> Any:
            clock.advance(121)  # no beat for longer than the lease
            (job,) = keeper(registry, CountingEngine(), clock, owner="other").claim()
            assert job.instance_id == spec.instance_id
            lost.append(stalled.heartbeat())
            return super().up(spec)

    stalled = keeper(registry, StalledBuild(), clock, owner="stalled", lease_seconds=120)
    (job,) = stalled.claim()
    stalled.run(job)
    assert lost == [{job.instance_id}]
    assert ready_count(registry) == 0  # the stalled worker's result is dropped


def test_the_workers_heartbeat_extends_pool_leases(registry: Registry, clock: Clock) -> None:
    """The worker process's heartbeat thread beats for its pool jobs as for its tenants."""
    registry_pools.set_target(registry, "de", "trial", 1, now=clock())
    beaten = threading.Event()
    stop = threading.Event()

    class WaitsForABeat(CountingEngine):
        def up(self, spec: TenantSpec) -> Any:
            beaten.wait(60)  # released by the heartbeat below, long before
            stop.set()
            return super().up(spec)

    pools = keeper(registry, WaitsForABeat(), clock, lease_seconds=120)
    real_heartbeat = pools.heartbeat

    def heartbeat() -> set[str]:
        clock.advance(100)
        lost = real_heartbeat()
        with registry.read() as conn:
            expires = conn.execute(sa.select(pool_instances.c.lease_expires_at)).scalar_one()
        if expires == clock() + timedelta(seconds=120):  # extended from the beat's instant
            beaten.set()
        return lost

    pools.heartbeat = heartbeat  # type: ignore[method-assign]
    settings = WorkerSettings(program_version=PROGRAM, poll_seconds=0.01, heartbeat_seconds=0.01)
    Worker(registry, CountingEngine(), settings, clock=clock, pools=pools).run(stop)
    assert beaten.is_set() and ready_count(registry) == 1
