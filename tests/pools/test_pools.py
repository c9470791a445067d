"""Warm pools end to end on each backend: refill, claim at signup, bind, recycle, updates, caps,
crashes, and the API's `provisioning` answer."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest

from provisioner.pools.keeper import KeeperSettings, PoolKeeper
from provisioner.registry import Registry
from provisioner.registry import pools as registry_pools
from provisioner.registry.signup import signup
from provisioner.spec import TenantSpec
from provisioner.worker import Worker, WorkerSettings
from tests.pools.conftest import CountingEngine, PlanningEngine
from tests.worker.conftest import Clock

PROGRAM = "test-1"


def keeper(
    registry: Registry, engine: Any, clock: Clock, owner: str = "keeper-a", **settings: Any
) -> PoolKeeper:
    return PoolKeeper(
        registry,
        engine,
        KeeperSettings(program_version=settings.pop("program", PROGRAM), **settings),
        owner=owner,
        clock=clock,
    )


def sign_up(registry: Registry, slug: str, location: str = "de") -> dict[str, Any]:
    answer = signup(
        registry,
        TenantSpec.create(slug, location, "trial"),
        f"ops@{slug}.example",
        actor="test",
        key=None,
        request_hash="",
        render=lambda t: {"instance_id": t.instance_id, "created_at": t.created_at},
        conflict=lambda exc: {"error": str(exc)},
    )
    assert answer.status_code == 202
    return answer.body


def ready_count(registry: Registry, location: str = "de") -> int:
    return next((c.ready for c in registry_pools.counts(registry) if c.location == location), 0)


def test_a_signup_binds_a_ready_instance_without_building_anything(
    registry: Registry, clock: Clock
) -> None:
    engine = PlanningEngine()
    registry_pools.set_target(registry, "de", "trial", 1, now=clock())
    assert keeper(registry, engine, clock).step() == 1  # one build
    assert ready_count(registry) == 1
    built_at = clock()

    clock.advance(3 * 3600)  # the instance waited three hours for its customer
    body = sign_up(registry, "acme")
    instance = body["instance_id"]
    assert instance and instance.startswith("pool-")
    tenant = registry.get_tenant("acme")
    assert tenant.instance_id == instance
    # Retention clocks start at binding, not when the instance was built.
    assert tenant.created_at == clock() and tenant.created_at - built_at == timedelta(hours=3)
    assert registry_pools.instance_state(registry, instance) == "bound"

    worker = Worker(registry, engine, WorkerSettings(program_version=PROGRAM), clock=clock)
    worker.run(once=True)
    tenant = registry.get_tenant("acme")
    assert tenant.observed_state == "active"
    stack, bind = engine.diffs[-1]
    assert stack == f"tenant-{instance}"  # the pooled stack itself, updated in place
    # Only the customer's DNS names (the app's and mail.<hostname>) are created.
    assert [e["type"] for e in bind["create"]] == ["aws:route53/record:Record"] * 2
    assert bind["replace"] == [] and bind["delete"] == []
    assert len([s for s in engine.plans if s.startswith("tenant-")]) == 1  # no second stack


def test_without_a_ready_instance_the_signup_is_cold(registry: Registry, clock: Clock) -> None:
    registry_pools.set_target(registry, "de", "trial", 1, now=clock())
    assert sign_up(registry, "acme")["instance_id"] is None  # the build has not even started
    keeper(registry, CountingEngine(), clock).step()
    assert sign_up(registry, "acme-uk", location="uk")["instance_id"] is None  # no pool there
    assert sign_up(registry, "acme-two")["instance_id"] is not None


def test_concurrent_signups_take_distinct_instances(registry: Registry, clock: Clock) -> None:
    registry_pools.set_target(registry, "de", "trial", 3, now=clock())
    keeper(registry, CountingEngine(), clock, max_jobs=3).step()
    assert ready_count(registry) == 3
    bodies: list[dict[str, Any]] = []
    lock = threading.Lock()

    def one(slug: str) -> None:
        body = sign_up(registry, slug)
        with lock:
            bodies.append(body)

    threads = [threading.Thread(target=one, args=(f"tenant-{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    pooled = [b["instance_id"] for b in bodies if b["instance_id"]]
    assert len(pooled) == 3 and len(set(pooled)) == 3
    assert ready_count(registry) == 0


def test_a_signup_takes_the_oldest_ready_instance_not_one_being_updated(
    registry: Registry, clock: Clock
) -> None:
    for size in (1, 2, 3):  # three instances, ready a minute apart, oldest first
        registry_pools.set_target(registry, "de", "trial", size, now=clock())
        keeper(registry, CountingEngine(), clock).step()
        clock.advance(60)
    newer = keeper(registry, CountingEngine(), clock, max_jobs=1, program="test-2")
    [update] = newer.claim()  # the oldest instance, leased for a release update
    assert update.kind == "update"

    second_oldest = sign_up(registry, "first")["instance_id"]
    assert second_oldest is not None and second_oldest != update.instance_id  # leased: skipped
    newer.run(update)  # lease released: the oldest is claimable again, and goes first
    assert sign_up(registry, "second")["instance_id"] == update.instance_id
    youngest = sign_up(registry, "third")["instance_id"]
    assert youngest not in (None, second_oldest, update.instance_id)
    assert sign_up(registry, "fourth")["instance_id"] is None  # none left: cold


def test_refill_after_claims_and_region_caps(registry: Registry, clock: Clock) -> None:
    engine = CountingEngine()
    registry_pools.set_target(registry, "de", "trial", 3, now=clock())
    capped = keeper(registry, engine, clock, max_jobs=5, region_cap=lambda r: 1)
    jobs = capped.claim()
    assert len(jobs) == 1  # three to build, one lease allowed in eu-central-1
    for job in jobs:
        capped.run(job)
    capped.step()
    capped.step()
    assert ready_count(registry) == 3
    sign_up(registry, "acme")
    assert capped.step() == 1  # the gap a signup left is filled again
    assert ready_count(registry) == 3


def test_a_killed_keepers_build_is_taken_over(registry: Registry, clock: Clock) -> None:
    engine = CountingEngine()
    registry_pools.set_target(registry, "de", "trial", 1, now=clock())
    dead = keeper(registry, engine, clock, owner="dead", lease_seconds=600)
    (job,) = dead.claim()  # ... and the process dies before the build finishes
    other = keeper(registry, engine, clock, owner="alive", lease_seconds=600)
    assert other.claim() == []  # its lease still holds; no second instance is started either
    clock.advance(601)
    (again,) = other.claim()
    assert again.instance_id == job.instance_id and again.kind == "build"
    assert other.run(again)
    assert not registry_pools.finish_job(registry, job, now=clock(), program_version=PROGRAM)
    assert ready_count(registry) == 1


def test_idle_instances_are_recycled_and_replaced(registry: Registry, clock: Clock) -> None:
    engine = CountingEngine()
    registry_pools.set_target(registry, "de", "trial", 1, now=clock(), max_idle_hours=24)
    k = keeper(registry, engine, clock, max_jobs=4)
    k.step()
    (old,) = [s for s in engine.stacks]
    clock.advance(23 * 3600)
    assert k.step() == 0  # not idle long enough
    clock.advance(2 * 3600)
    assert k.step() == 2  # recycle the old one, build its replacement
    assert ("destroy", old) in engine.ops and old not in engine.stacks
    assert ready_count(registry) == 1 and len(engine.stacks) == 1


def test_ready_instances_follow_new_releases(registry: Registry, clock: Clock) -> None:
    engine = CountingEngine()
    registry_pools.set_target(registry, "de", "trial", 2, now=clock())
    keeper(registry, engine, clock, max_jobs=2).step()
    newer = keeper(registry, engine, clock, max_jobs=2, program="test-2")
    jobs = newer.claim()
    assert sorted(j.kind for j in jobs) == ["update", "update"]
    for job in jobs:
        newer.run(job)
    assert newer.claim() == []


def test_drain_recycles_ready_instances(registry: Registry, clock: Clock) -> None:
    engine = CountingEngine()
    registry_pools.set_target(registry, "de", "trial", 2, now=clock())
    k = keeper(registry, engine, clock, max_jobs=4)
    k.step()
    registry_pools.set_target(registry, "de", "trial", 0, now=clock())
    assert k.step() == 2
    assert ready_count(registry) == 0 and engine.stacks == {}


def test_a_failing_build_is_retried_then_failed(registry: Registry, clock: Clock) -> None:
    registry_pools.set_target(registry, "de", "trial", 1, now=clock())
    probe = keeper(registry, CountingEngine(), clock)
    (job,) = probe.claim()
    registry_pools.finish_job(registry, job, now=clock(), error="boom")  # attempt 1
    engine = CountingEngine(fail={job.instance_id})
    k = keeper(registry, engine, clock, max_attempts=3)
    assert k.step() == 1 and k.step() == 0  # attempt 2 fails and backs off
    clock.advance(3600)
    assert k.step() == 1  # attempt 3
    assert registry_pools.instance_state(registry, job.instance_id) == "failed"
    clock.advance(3600)
    k.step()  # the pool builds another instead
    assert ready_count(registry) == 1


def test_a_failing_build_backs_off_instead_of_looping(registry: Registry, clock: Clock) -> None:
    """A persistent cause (no Pulumi CLI) must not make the workers fail and replace instances
    as fast as they can: each failure waits 15-30 s doubling (cap an hour), and a given-up
    build's replacement waits an hour."""

    class AlwaysFails(CountingEngine):
        def up(self, spec: TenantSpec) -> Any:
            self.ops.append(("up", spec.stack_name))
            raise RuntimeError("the Pulumi CLI is not installed")

    registry_pools.set_target(registry, "de", "trial", 1, now=clock())
    engine = AlwaysFails()
    k = keeper(registry, engine, clock, max_attempts=3, rand=lambda: 1.0)
    stats = k.run_due()  # one pass ends: the failed build is not due again at once
    assert stats.to_dict() == {"failed": {"build": 1}, "succeeded": {}}
    assert len(engine.ops) == 1
    clock.advance(29)
    assert k.run_due().to_dict()["failed"] == {}  # the first retry waits 30 s (rand 1.0)
    clock.advance(1)
    assert k.run_due().to_dict()["failed"] == {"build": 1}
    clock.advance(59)
    assert k.step() == 0  # then 60 s
    clock.advance(1)
    assert k.step() == 1  # attempt 3: given up
    (pool,) = registry_pools.counts(registry, now=clock())
    assert pool.failed_last_day == 1
    assert pool.last_error == "build: the Pulumi CLI is not installed"
    clock.advance(3599)
    assert k.step() == 0  # the replacement waits an hour after the give-up
    clock.advance(1)
    assert k.step() == 1
    assert len(engine.ops) == 4


@pytest.mark.parametrize("value", ["acme", "pool", "pool-", "pool--x", "POOL-x"])
def test_instance_ids_are_validated(value: str) -> None:
    from provisioner.errors import UsageError
    from provisioner.plans import get_plan
    from provisioner.regions import catalogue

    with pytest.raises(UsageError):
        TenantSpec.for_pool(value, catalogue().resolve("de"), get_plan("trial"))


def test_the_worker_runs_the_pools_beside_tenant_work(registry: Registry, clock: Clock) -> None:
    stop = threading.Event()

    class StopsAfterOneBuild(CountingEngine):
        def up(self, spec: TenantSpec) -> Any:
            super().up(spec)
            stop.set()  # the worker finishes what runs, then returns

    engine = StopsAfterOneBuild()
    registry_pools.set_target(registry, "de", "trial", 1, now=clock())
    settings = WorkerSettings(program_version=PROGRAM, poll_seconds=0.01)
    pools = keeper(registry, engine, clock)
    Worker(registry, engine, settings, clock=clock, pools=pools).run(stop)
    assert ready_count(registry) == 1
    assert [op for op, _ in engine.ops] == ["up"]
