"""`pool fill|drain|status` against a registry of its own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from provisioner.cli.main import app
from tests.registry.conftest import point_cli_at


def _run(*args: str) -> dict:
    out = CliRunner().invoke(app, ["pool", *args, "-o", "json"])
    assert out.exit_code == 0, out.output
    return json.loads(out.stdout)


def test_fill_status_drain(db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    point_cli_at(db_url, monkeypatch, tmp_path)
    assert _run("fill", "de", "--size", "3")["target"] == 3
    (pool,) = _run("status")["pools"]
    assert (pool["location"], pool["target"], pool["ready"]) == ("de", 3, 0)
    assert pool["idle_cost_per_month"]["usd"] == 0 and pool["idle_cost_per_month"]["complete"]
    assert pool["recommended"] >= 1
    assert _run("drain", "de")["target"] == 0
    assert _run("status")["pools"][0]["target"] == 0


def _ready_pool(db_url: str, size: int, fail: bool = False) -> list[str]:
    """A de/trial pool of `size` built by a keeper with an engine double; the instance ids."""
    from datetime import UTC, datetime

    from provisioner.pools.keeper import KeeperSettings, PoolKeeper
    from provisioner.registry import Registry, pools
    from tests.pools.conftest import CountingEngine

    class Failing(CountingEngine):
        def up(self, spec: object) -> None:
            raise RuntimeError("the Pulumi CLI is not installed")

    now = datetime.now(UTC)
    with Registry.open(db_url) as registry:
        pools.set_target(registry, "de", "trial", size, now=now)
        keeper = PoolKeeper(
            registry,
            Failing() if fail else CountingEngine(),
            KeeperSettings("v1", max_jobs=size, max_attempts=1),
            owner="k",
            clock=lambda: now,
        )
        return [job.instance_id for job in keeper.claim() if keeper.run(job)]


def test_status_prices_the_idle_instances_from_the_cost_model(
    db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from provisioner.pools.idle_cost import instance_cost

    point_cli_at(db_url, monkeypatch, tmp_path)
    assert len(_ready_pool(db_url, 2)) == 2
    (pool,) = _run("status", "--database-url", db_url)["pools"]
    one = instance_cost("de", "trial")
    assert one.monthly_usd > 0  # the cost model prices a pooled stack (NAT gateway, ALB, ...)
    assert pool["idle_cost_per_month"] == {
        "usd": round(2 * one.monthly_usd, 2),
        "per_instance_usd": one.monthly_usd,
        "complete": one.complete,
        "prices_date": one.prices_date,
    }
    table = CliRunner().invoke(app, ["pool", "status"], env={"COLUMNS": "200"})
    assert table.exit_code == 0
    assert f"${2 * one.monthly_usd:,.2f}" in table.stdout


def test_status_shows_failed_builds_and_the_last_error(
    db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    point_cli_at(db_url, monkeypatch, tmp_path)
    assert _ready_pool(db_url, 1, fail=True) == []
    (pool,) = _run("status")["pools"]
    assert pool["failed_last_day"] == 1 and pool["ready"] == 0
    assert pool["last_error"] == "build: the Pulumi CLI is not installed"
    table = CliRunner().invoke(app, ["pool", "status"], env={"COLUMNS": "200"})
    assert "de/trial: last error: build: the Pulumi CLI is not installed" in table.stdout


def test_status_without_pools_says_how_to_start_one(
    db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    point_cli_at(db_url, monkeypatch, tmp_path)
    out = CliRunner().invoke(app, ["pool", "status"])
    assert out.exit_code == 0 and "provisioner pool fill LOCATION" in out.stdout


def test_drain_says_what_the_workers_recycle(
    db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    point_cli_at(db_url, monkeypatch, tmp_path)
    _ready_pool(db_url, 2)
    assert _run("drain", "de")["ready_to_recycle"] == 2
    out = CliRunner().invoke(app, ["pool", "drain", "de"])
    assert "recycle its 2 instances ready now" in out.stdout


def test_pool_commands_take_the_registry_url(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    assert _run("fill", "uk", "--size", "2", "--database-url", url)["target"] == 2
    (pool,) = _run("status", "--database-url", url)["pools"]
    assert (pool["location"], pool["target"]) == ("uk", 2)


def test_fill_an_unknown_location_changes_nothing(
    db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    point_cli_at(db_url, monkeypatch, tmp_path)
    out = CliRunner().invoke(app, ["pool", "fill", "mars"])
    assert out.exit_code == 2 and "unknown location 'mars'" in out.output
    assert _run("status")["pools"] == []


def test_operations_on_a_bound_tenant_use_its_instance(
    db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from datetime import UTC, datetime

    from provisioner.audit.model import Target
    from provisioner.cli.audit import resolve_target
    from provisioner.cli.tenant_ops import resolve_spec
    from provisioner.pools.keeper import KeeperSettings, PoolKeeper
    from provisioner.regions import catalogue
    from provisioner.registry import Registry
    from tests.pools.conftest import CountingEngine
    from tests.pools.test_pools import sign_up

    point_cli_at(db_url, monkeypatch, tmp_path)
    now = datetime.now(UTC)
    with Registry.open(db_url) as registry:
        from provisioner.registry import pools

        pools.set_target(registry, "de", "trial", 1, now=now)
        PoolKeeper(
            registry, CountingEngine(), KeeperSettings("v1"), owner="k", clock=lambda: now
        ).step()
        instance = sign_up(registry, "acme")["instance_id"]
    spec = resolve_spec("acme", None, None)
    assert spec.stack_name == f"tenant-{instance}" and spec.slug == "acme" and spec.pooled
    assert spec.admin_email == "ops@acme.example"  # `tenants up` keeps the bind's invitation
    target, _ = resolve_target("acme", None)
    assert target == Target("acme", catalogue().resolve("de"), instance)
    assert target.db_identifier == f"t-{instance}-db"
    assert target.key_alias == f"alias/tenant-{instance}"
    assert Target("acme", catalogue().resolve("de")).db_identifier == "t-acme-db"


def test_tenants_create_claims_a_ready_instance_like_a_signup(
    db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from provisioner.registry import Registry

    point_cli_at(db_url, monkeypatch, tmp_path)
    assert len(_ready_pool(db_url, 1)) == 1
    runner = CliRunner()
    out = runner.invoke(app, ["tenants", "create", "acme", "-l", "de", "-p", "trial", "-o", "json"])
    assert out.exit_code == 0, out.output
    created = json.loads(out.stdout)
    assert created["instance_id"].startswith("pool-")  # pooled (null: cold)
    out = runner.invoke(app, ["tenants", "create", "acme-two", "-l", "de", "-p", "trial"])
    assert out.exit_code == 0 and "(cold: the workers build its stack)" in out.stdout
    with Registry.open(db_url) as registry:
        assert registry.get_tenant("acme").instance_id == created["instance_id"]
        assert registry.get_tenant("acme-two").instance_id is None
        (claimed,) = [e for e in registry.events("acme") if e.kind == "pool.claimed"]
        assert claimed.data == {"instance_id": created["instance_id"], "location": "de",
                                "plan": "trial"}  # fmt: skip
        assert not [e for e in registry.events("acme-two") if e.kind == "pool.claimed"]
