"""Operator stack commands on a registered tenant go through the lifecycle: refused with exit 2
and one line when it forbids them (before the Pulumi CLI is looked for), and every one that
runs is in the tenant's audit trail as the operator who ran it."""

from __future__ import annotations

import getpass
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from provisioner.cli.main import app
from provisioner.errors import EngineError
from provisioner.registry import Registry
from provisioner.spec import TenantSpec
from tests.registry.conftest import cli_env, db_url  # noqa: F401  (the fixtures, reused)

T0 = datetime.now(UTC) - timedelta(days=60)


def run(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def no_cli(cli_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:  # noqa: F811
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    return cli_env


def _registry(url: str) -> Registry:
    return Registry.open(url)


def _create(url: str, slug: str, plan: str = "standard") -> None:
    with _registry(url) as reg:
        reg.create_tenant(TenantSpec.create(slug, "de", plan), actor="test", at=T0)


def _events(url: str, slug: str) -> list[tuple[str, str]]:
    with _registry(url) as reg:
        return [(e.kind, e.actor) for e in reg.events(slug)]


REFUSED = [
    ("up", "payment", ("up",), "suspended by the payment-failed rule"),
    ("preview", "payment", ("preview",), "payment_recovered"),
    ("up", "operator", ("up",), "tenants resume acme"),
    ("up", "closed", ("up",), "closed"),
    ("destroy", "active", ("destroy", "--yes"), "retention rules"),
    ("destroy", "payment", ("destroy", "--yes"), "retention rules"),
    ("destroy", "closed", ("destroy", "--yes"), "deletion date is in 'provisioner tenants show"),
]


@pytest.mark.parametrize(("verb", "state", "args", "message"), REFUSED)
def test_forbidden_commands_exit_2_before_the_cli_and_change_nothing(
    no_cli: str, verb: str, state: str, args: tuple[str, ...], message: str
) -> None:
    _create(no_cli, "acme")
    with _registry(no_cli) as reg:
        if state == "payment":  # not paid for 16 days: the retention rule suspended it
            reg.record_billing_event("acme", "payment_failed", actor="billing", at=T0)
            reg.retention_apply(T0 + timedelta(days=16))
        elif state == "operator":
            reg.suspend("acme", actor="ops", at=T0)
        elif state == "closed":
            reg.record_billing_event("acme", "cancelled", actor="billing", at=T0)
        before = (reg.get_tenant("acme"), reg.events("acme"))
    result = run("tenants", *args[:1], "acme", *args[1:])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: cannot {verb} tenant 'acme'")
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert "Pulumi" not in result.stderr
    with _registry(no_cli) as reg:
        assert (reg.get_tenant("acme"), reg.events("acme")) == before


def test_allowed_commands_then_need_the_cli(no_cli: str) -> None:
    _create(no_cli, "acme")
    for args in (("up", "acme"), ("refresh", "acme"), ("outputs", "acme")):
        result = run("tenants", *args)
        assert result.exit_code == 3 and "Pulumi CLI is not installed" in result.stderr, args


def test_destroying_a_tenant_due_for_deletion_is_recorded_like_a_workers(
    no_cli: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROVISIONER_ACTOR")
    operator = f"cli:{getpass.getuser()}"
    _create(no_cli, "acme", plan="trial")  # its build failed: no stack was ever made
    with _registry(no_cli) as reg:
        reg.retention_apply(datetime.now(UTC))
        assert reg.get_tenant("acme").desired_state == "deleted"
    result = run("tenants", "destroy", "acme", "--yes", "-o", "json")
    assert result.exit_code == 0, result.output  # no Pulumi CLI needed: the backend has no stack
    final = json.loads(result.stdout.strip().splitlines()[-1])
    assert final["kind"] == "result" and final["result"]["verb"] == "destroy"
    with _registry(no_cli) as reg:
        tenant = reg.get_tenant("acme")
    assert tenant.observed_state == "deleted"
    evidence = tenant.deletion_evidence or {}
    assert (
        evidence["stack_existed"] is False and "without the Pulumi CLI" in evidence["stack_check"]
    )
    trail = _events(no_cli, "acme")
    assert ("operator.destroy", operator) in trail and ("observed", operator) in trail
    assert ("operator.destroy.succeeded", operator) in trail
    again = run("tenants", "destroy", "acme", "--yes")
    assert again.exit_code == 2 and "already destroyed" in again.stderr


class FailingEngine:
    """What `_engine` builds, standing in for a CLI whose refresh fails."""

    def __init__(self) -> None:
        from provisioner.engine import EngineSettings

        self.settings = EngineSettings.build(Path("/nonexistent-home"), {})

    def check(self) -> None:
        return None

    def refresh(self, spec: TenantSpec, on_event: Any = None) -> Any:
        raise EngineError("refresh tenant-acme: the provider said no")


def test_every_stack_command_is_an_event_with_its_outcome(
    cli_env: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _create(cli_env, "acme")
    monkeypatch.setattr("provisioner.cli.tenant_ops._engine", lambda *_: FailingEngine())
    result = run("tenants", "refresh", "acme")
    assert result.exit_code == 1 and "the provider said no" in result.stderr
    trail = _events(cli_env, "acme")[1:]
    assert trail == [("operator.refresh", "test:operator"),
                     ("operator.refresh.failed", "test:operator")]  # fmt: skip
    with _registry(cli_env) as reg:
        failed = reg.events("acme")[-1]
    assert failed.reason == "refresh tenant-acme: the provider said no"


def test_retry_is_recorded_as_the_operator(cli_env: str, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    monkeypatch.delenv("PROVISIONER_ACTOR")
    _create(cli_env, "acme")
    assert run("tenants", "retry", "acme", "--database-url", cli_env).exit_code == 0
    assert _events(cli_env, "acme")[-1] == (
        "reconcile.retry-requested",
        f"cli:{getpass.getuser()}",
    )
