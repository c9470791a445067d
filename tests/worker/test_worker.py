"""Workers reconcile tenants through the engine double: create, retry, give up, suspend, resume,
destroy, update to a new program, per-region caps, lost leases. SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from provisioner.registry import Registry, leases, outcomes
from provisioner.worker import Worker, WorkerSettings
from tests.worker.conftest import PROGRAM, Clock, add_tenants
from tests.worker.engine_double import DoubleEngine


def make_worker(
    registry: Registry, engine: DoubleEngine, clock: Clock | None = None, **overrides: object
) -> Worker:
    options: dict[str, object] = {
        "program_version": PROGRAM,
        "concurrency": 4,
        "lease_seconds": 30.0,
        "heartbeat_seconds": 0.2,
        "poll_seconds": 0.05,
        "max_attempts": 3,
        "retry_base_seconds": 10.0,
    }
    options.update(overrides)
    settings = WorkerSettings(**options)  # type: ignore[arg-type]
    kwargs = {"clock": clock} if clock else {}
    return Worker(registry, engine, settings, rand=lambda: 0.5, **kwargs)  # type: ignore[arg-type]


def kinds(registry: Registry, slug: str) -> list[str]:
    return [e.kind for e in registry.events(slug)]


def test_creates_every_new_tenant_once(registry: Registry, engine: DoubleEngine) -> None:
    engine.delay = 0.02
    add_tenants(registry, "acme", "globex", "initech", "umbrella", "hooli")
    stats = make_worker(registry, engine).run(once=True)
    assert stats.succeeded == 5 and stats.actions == {"create": 5}
    for tenant in registry.list_tenants():
        assert (tenant.observed_state, tenant.observed_generation) == ("active", 1)
        assert tenant.program_version == PROGRAM
        assert tenant.lease_owner is None and tenant.attempts == 0
        # outputs are stored with secrets masked
        assert tenant.outputs == {
            "db_password": "[secret]",
            "url": f"https://{tenant.slug}.example.test",
        }
        assert engine.state(tenant.slug)["creates"] == 1
        assert kinds(registry, tenant.slug) == ["created", "reconcile.started", "observed"]
    assert engine.overlaps() == []
    # Nothing left to do: a second pass claims nothing and calls no engine.
    assert make_worker(registry, engine).run(once=True).claimed == 0


def test_failed_attempts_back_off_then_succeed(
    registry: Registry, engine: DoubleEngine, clock: Clock
) -> None:
    engine._fail_left["acme"] = 2
    add_tenants(registry, "acme")
    worker = make_worker(registry, engine, clock)
    worker.run(once=True)
    first = registry.get_tenant("acme")
    assert first.observed_state is None and first.attempts == 1
    assert "the double was told to fail" in (first.last_error or "")
    # equal jitter with rand=0.5: 10 s * (1/2 + 0.5/2) = 7.5 s after the failure
    assert first.next_attempt_at == clock.now + timedelta(seconds=7.5)
    assert worker.run(once=True).claimed == 0  # not due yet: no spin
    clock.advance(8)
    worker.run(once=True)
    second = registry.get_tenant("acme")
    assert second.attempts == 2
    assert second.next_attempt_at == clock.now + timedelta(seconds=15)  # doubled
    clock.advance(16)
    worker.run(once=True)
    done = registry.get_tenant("acme")
    assert (done.observed_state, done.attempts, done.last_error) == ("active", 0, None)
    assert kinds(registry, "acme").count("reconcile.retry") == 2


def test_gives_up_after_max_attempts_and_says_why(
    registry: Registry, engine: DoubleEngine, clock: Clock
) -> None:
    engine.always_fail = {"acme"}
    add_tenants(registry, "acme")
    worker = make_worker(registry, engine, clock)
    for _ in range(3):
        worker.run(once=True)
        clock.advance(3600)
    failed = registry.get_tenant("acme")
    assert failed.observed_state == "failed" and failed.attempts == 3
    assert failed.last_error and failed.last_error.startswith("gave up after 3 attempt(s): create:")
    clock.advance(10 * 3600)
    assert worker.run(once=True).claimed == 0  # never retried on its own
    # A new desired state earns fresh attempts (here: the operator suspends the tenant).
    registry.suspend("acme", actor="test")
    engine.always_fail = set()
    worker.run(once=True)
    assert registry.get_tenant("acme").observed_state == "suspended"


def test_operator_retry_gives_fresh_attempts(
    registry: Registry, engine: DoubleEngine, clock: Clock
) -> None:
    engine.always_fail = {"acme"}
    add_tenants(registry, "acme")
    worker = make_worker(registry, engine, clock, max_attempts=1)
    worker.run(once=True)
    assert registry.get_tenant("acme").observed_state == "failed"
    engine.always_fail = set()
    outcomes.retry(registry, "acme", actor="test", now=clock())
    worker.run(once=True)
    tenant = registry.get_tenant("acme")
    assert tenant.observed_state == "active" and engine.state("acme")["creates"] == 1
    assert "reconcile.retry-requested" in kinds(registry, "acme")


def test_without_pulumi_cli_the_attempt_fails_with_the_message_and_backs_off(
    registry: Registry, clock: Clock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real engine on a machine without the Pulumi CLI (this one)."""
    from provisioner.engine import Engine
    from provisioner.worker import PulumiStackEngine

    monkeypatch.setenv("PROVISIONER_HOME", str(tmp_path / "home"))
    real = PulumiStackEngine(Engine(env={"PATH": str(tmp_path / "empty-bin")}))
    add_tenants(registry, "acme")
    worker = Worker(
        registry,
        real,
        WorkerSettings(program_version=PROGRAM, poll_seconds=0.05, retry_base_seconds=60),
        clock=clock,
        rand=lambda: 0.0,
    )
    stats = worker.run(once=True)
    assert (stats.claimed, stats.retried) == (1, 1)
    tenant = registry.get_tenant("acme")
    assert tenant.observed_state is None and tenant.attempts == 1
    assert tenant.last_error and "Pulumi CLI is not installed" in tenant.last_error
    assert "https://www.pulumi.com/docs/install/" in tenant.last_error
    assert tenant.next_attempt_at == clock.now + timedelta(seconds=30)
    assert worker.run(once=True).claimed == 0  # backed off: no spin


def test_a_trial_that_never_built_is_deleted_without_the_pulumi_cli(
    registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real engine, no Pulumi CLI: the build fails for good, the trial reaches its deletion
    date, and the deletion completes because the backend has no stack (the evidence says so)."""
    from provisioner.engine import Engine
    from provisioner.spec import TenantSpec
    from provisioner.worker import PulumiStackEngine

    monkeypatch.setenv("PROVISIONER_HOME", str(tmp_path / "home"))
    real = PulumiStackEngine(Engine(env={"PATH": str(tmp_path / "empty-bin")}))
    t0 = datetime.now(UTC) - timedelta(days=40)
    registry.create_tenant(TenantSpec.create("acme", "de", "trial"), actor="test", at=t0)
    worker = make_worker(registry, real, max_attempts=1)
    worker.run(once=True)
    assert registry.get_tenant("acme").observed_state == "failed"
    registry.retention_apply(datetime.now(UTC))
    assert registry.get_tenant("acme").desired_state == "deleted"
    assert worker.run(once=True).actions == {"destroy": 1}
    tenant = registry.get_tenant("acme")
    assert tenant.observed_state == "deleted" and tenant.last_error is None
    evidence = tenant.deletion_evidence or {}
    assert evidence["stack_existed"] is False
    assert "without the Pulumi CLI" in evidence["stack_check"]


def test_suspend_resume_and_destroy(registry: Registry, engine: DoubleEngine) -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    from provisioner.spec import TenantSpec

    registry.create_tenant(TenantSpec.create("acme", "de", "trial"), actor="test", at=t0)
    worker = make_worker(registry, engine)
    worker.run(once=True)
    registry.suspend("acme", actor="test", at=t0 + timedelta(days=1))
    worker.run(once=True)
    assert engine.state("acme")["status"] == "stopped"
    assert registry.get_tenant("acme").observed_state == "suspended"
    registry.resume("acme", actor="test", at=t0 + timedelta(days=2))
    assert worker.run(once=True).actions == {"resume": 1}
    assert engine.state("acme")["status"] == "running"
    # The trial ends on day 14; its data is deleted 12 days later (retention rules).
    registry.retention_apply(t0 + timedelta(days=40))
    assert registry.get_tenant("acme").desired_state == "deleted"
    assert worker.run(once=True).actions == {"destroy": 1}
    tenant = registry.get_tenant("acme")
    assert tenant.observed_state == "deleted" and engine.state("acme")["exists"] is False
    assert tenant.deletion_evidence and tenant.deletion_evidence["stack_existed"] is True
    assert engine.state("acme")["ops"] == ["up", "suspend", "up", "destroy"]


def test_new_program_version_updates_active_tenants(
    registry: Registry, engine: DoubleEngine
) -> None:
    add_tenants(registry, "acme", "globex")
    make_worker(registry, engine).run(once=True)
    registry.suspend("globex", actor="test")
    make_worker(registry, engine).run(once=True)
    stats = make_worker(registry, engine, program_version="test-2").run(once=True)
    assert stats.actions == {"update": 1}  # the suspended one waits for its resume
    assert registry.get_tenant("acme").program_version == "test-2"
    assert engine.state("acme")["updates"] == 1


def test_region_caps_hold_across_workers(registry: Registry, engine: DoubleEngine) -> None:
    engine.delay = 0.1
    add_tenants(registry, *(f"de-{i}" for i in range(6)), location="de")
    add_tenants(registry, *(f"jp-{i}" for i in range(4)), location="jp")
    workers = [
        make_worker(registry, engine, concurrency=4, region_caps={"eu-central-1": 2})
        for _ in range(2)
    ]
    threads = [threading.Thread(target=w.run, kwargs={"once": True}) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Workers exit when nothing is claimable *now*: finish what the cap held back.
    make_worker(registry, engine, region_caps={"eu-central-1": 2}).run(once=True)
    assert all(t.observed_state == "active" for t in registry.list_tenants())
    assert engine.max_running["eu-central-1"] <= 2
    assert engine.overlaps() == []


def test_a_late_result_after_a_takeover_is_dropped(
    registry: Registry, engine: DoubleEngine, clock: Clock
) -> None:
    add_tenants(registry, "acme")
    args = {"limit": 1, "lease_seconds": 10, "max_attempts": 3, "program_version": PROGRAM}
    (first,) = leases.claim(registry, "worker-a", now=clock(), **args)  # type: ignore[arg-type]
    assert leases.claim(registry, "worker-b", now=clock(), **args) == []  # type: ignore[arg-type]
    clock.advance(11)  # worker-a went silent: its lease expired
    (second,) = leases.claim(registry, "worker-b", now=clock(), **args)  # type: ignore[arg-type]
    assert second.attempt == 2
    late = outcomes.complete(
        registry, first, now=clock(), observed_state="active", program_version=PROGRAM
    )
    assert late is None and registry.get_tenant("acme").observed_state is None
    done = outcomes.complete(
        registry, second, now=clock(), observed_state="active", program_version=PROGRAM
    )
    assert done is not None and done.observed_state == "active"
    assert kinds(registry, "acme").count("observed") == 1
    expired = [e for e in registry.events("acme") if e.kind == "reconcile.lease-expired"]
    assert [(e.data or {}).get("owner") for e in expired] == ["worker-a"]


def test_a_lost_last_attempt_is_given_up_once_with_its_expired_lease_recorded(
    registry: Registry, engine: DoubleEngine, clock: Clock
) -> None:
    add_tenants(registry, "acme")
    args = {"limit": 1, "lease_seconds": 10, "max_attempts": 1, "program_version": PROGRAM}
    leases.claim(registry, "worker-a", now=clock(), **args)  # type: ignore[arg-type]
    clock.advance(11)  # killed: never reports
    assert leases.claim(registry, "worker-b", now=clock(), **args) == []  # type: ignore[arg-type]
    tenant = registry.get_tenant("acme")
    assert tenant.observed_state == "failed" and "never reported back" in (tenant.last_error or "")
    assert leases.claim(registry, "worker-c", now=clock(), **args) == []  # type: ignore[arg-type]
    trail = kinds(registry, "acme")
    assert trail.count("reconcile.lease-expired") == 1 and trail.count("observed") == 1
    assert trail.index("reconcile.lease-expired") < trail.index("observed")


def test_claims_find_unsettled_tenants_through_the_partial_index(tmp_path: Path) -> None:
    """Without the index every claim scanned every settled tenant (25 ms at 10,000)."""
    import importlib

    import sqlalchemy as sa

    migration = importlib.import_module(
        "provisioner.registry.migrations.versions.0003_unsettled_index"
    )
    assert migration.UNSETTLED == leases.UNSETTLED
    with Registry.open(f"sqlite:///{tmp_path / 'r.db'}") as registry:
        now = datetime.now(UTC)
        query = (
            sa.select(leases.c.id)
            .where(sa.text(leases.UNSETTLED), leases._ready(now))
            .order_by(leases.c.id)
            .limit(16)
        )
        sql = str(query.compile(compile_kwargs={"literal_binds": True}))
        with registry.read() as conn:
            steps = [row[3] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")]
    assert "SCAN tenants" not in steps, steps  # a full table scan
    assert any("ix_tenants_unsettled" in step for step in steps), steps


def test_the_real_adapter_maps_the_workers_verbs_and_gates_them() -> None:
    """PulumiStackEngine maps the worker's verbs onto provisioner.engine.Engine's (the shape
    each verb deploys: test_adapter_shapes.py, through the real Engine)."""
    from provisioner.policy.gate import Deployment
    from provisioner.spec import TenantSpec
    from provisioner.worker import PulumiStackEngine

    calls: list[tuple[str, str]] = []

    class RecordingEngine:
        """Calls the gate as provisioner.engine.Engine does, before it would apply anything."""

        def up(self, spec: TenantSpec, gate: Any) -> str:
            gate(Deployment(spec))
            calls.append(("up", spec.slug))
            return "up"

        def suspend(self, spec: TenantSpec, gate: Any) -> str:
            gate(Deployment(spec, suspended=True))
            calls.append(("suspend", spec.slug))
            return "suspended"

        def destroy(self, spec: TenantSpec) -> str:
            calls.append(("destroy", spec.slug))
            return "destroyed"

    adapter = PulumiStackEngine(RecordingEngine())  # with the real policy check
    spec = TenantSpec.create("acme", "de", "trial")
    assert adapter.suspend(spec) == "suspended"
    assert adapter.up(spec) == "up"
    assert calls == [("suspend", "acme"), ("up", "acme")]

    # A program that breaks a promise is never deployed by a worker.
    from provisioner.errors import CheckFailed
    from provisioner.policy import evaluate
    from provisioner.synth import synth_plan

    def broken_check(deployment: Deployment) -> object:
        plan = synth_plan(deployment.spec, suspended=deployment.suspended)
        for res in plan["resources"]:
            if res["type"] == "aws:rds/instance:Instance":
                res["inputs"]["publiclyAccessible"] = True
        return evaluate(plan)

    calls.clear()
    gated = PulumiStackEngine(RecordingEngine(), check=broken_check)
    with pytest.raises(CheckFailed, match="nothing was deployed"):
        gated.up(spec)
    with pytest.raises(CheckFailed):
        gated.suspend(spec)
    assert calls == []
