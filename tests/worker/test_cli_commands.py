"""`provisioner tenants retry` and the worker's option checks, through Typer's CliRunner."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from provisioner.cli.main import app
from provisioner.registry import Registry
from provisioner.worker import Worker, WorkerSettings
from tests.worker.conftest import PROGRAM, Clock, add_tenants
from tests.worker.engine_double import DoubleEngine


def test_retry_gives_a_failed_tenant_fresh_attempts(
    registry: Registry,
    engine: DoubleEngine,
    clock: Clock,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine.always_fail = {"acme"}
    add_tenants(registry, "acme")
    settings = WorkerSettings(program_version=PROGRAM, max_attempts=1, poll_seconds=0.05)
    Worker(registry, engine, settings, clock=clock).run(once=True)
    monkeypatch.setenv("PROVISIONER_DATABASE_URL", db_url)
    shown = CliRunner().invoke(app, ["tenants", "show", "acme", "-o", "json"])
    assert '"observed_state": "failed"' in shown.stdout
    result = CliRunner().invoke(app, ["tenants", "retry", "acme", "-o", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["attempts"] == 0
    engine.always_fail = set()
    Worker(registry, engine, settings, clock=clock).run(once=True)
    assert registry.get_tenant("acme").observed_state == "active"


def test_retry_of_an_unknown_tenant_is_a_usage_error(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROVISIONER_DATABASE_URL", db_url)
    result = CliRunner().invoke(app, ["tenants", "retry", "nobody"])
    assert result.exit_code == 2 and "no tenant 'nobody'" in result.stderr


def test_worker_refuses_a_malformed_region_cap(db_url: str) -> None:
    result = CliRunner().invoke(app, ["worker", "--once", "--region-cap", "eu-central-1"])
    assert result.exit_code == 2
    assert "use REGION=N" in result.stderr
