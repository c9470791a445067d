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
    assert pool["idle_cost_per_month"] is None  # unpriced, never 0
    assert pool["recommended"] >= 1
    assert _run("drain", "de")["target"] == 0
    assert _run("status")["pools"][0]["target"] == 0


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
    target, _ = resolve_target("acme", None)
    assert target == Target("acme", catalogue().resolve("de"), instance)
    assert target.db_identifier == f"t-{instance}-db"
    assert target.key_alias == f"alias/tenant-{instance}"
    assert Target("acme", catalogue().resolve("de")).db_identifier == "t-acme-db"


def test_tenants_create_claims_a_ready_instance_like_a_signup(
    db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from datetime import UTC, datetime

    from provisioner.pools.keeper import KeeperSettings, PoolKeeper
    from provisioner.registry import Registry, pools
    from tests.pools.conftest import CountingEngine

    point_cli_at(db_url, monkeypatch, tmp_path)
    now = datetime.now(UTC)
    with Registry.open(db_url) as registry:
        pools.set_target(registry, "de", "trial", 1, now=now)
        PoolKeeper(
            registry, CountingEngine(), KeeperSettings("v1"), owner="k", clock=lambda: now
        ).step()
    runner = CliRunner()
    out = runner.invoke(app, ["tenants", "create", "acme", "-l", "de", "-p", "trial", "-o", "json"])
    assert out.exit_code == 0, out.output
    created = json.loads(out.stdout)
    assert created["provisioning"] == "pooled" and created["instance_id"].startswith("pool-")
    out = runner.invoke(app, ["tenants", "create", "acme-two", "-l", "de", "-p", "trial"])
    assert out.exit_code == 0 and "(cold: the workers build its stack)" in out.stdout
    with Registry.open(db_url) as registry:
        assert registry.get_tenant("acme").instance_id == created["instance_id"]
        assert registry.get_tenant("acme-two").instance_id is None
        (claimed,) = [e for e in registry.events("acme") if e.kind == "pool.claimed"]
        assert claimed.data == {"instance_id": created["instance_id"], "location": "de",
                                "plan": "trial"}  # fmt: skip
        assert not [e for e in registry.events("acme-two") if e.kind == "pool.claimed"]
