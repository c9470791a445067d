"""`provisioner tenants ...` stack commands and `provisioner doctor` through CliRunner.

The sandbox fixture points PROVISIONER_HOME, HOME and PATH into an empty tmp dir: no Pulumi CLI,
no registry. Every command must then exit 3 (or 2 for bad input) and write nothing at all.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from provisioner.cli.main import app
from provisioner.errors import PULUMI_INSTALL_URL
from provisioner.spec import TenantSpec
from tests.engine.conftest import fake_pulumi, tree


def run(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def test_up_without_the_pulumi_cli_exits_3_and_leaves_nothing(sandbox: Path) -> None:
    result = run("tenants", "up", "demo", "--location", "de", "--plan", "trial")
    assert result.exit_code == 3, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1  # one line, no traceback
    assert lines[0].startswith("error: the Pulumi CLI is not installed")
    assert PULUMI_INSTALL_URL in lines[0]
    assert result.stdout == ""
    assert tree(sandbox) == []  # no state dir, no passphrase file, no work dir, no registry


@pytest.mark.parametrize(
    "args",
    [
        ("preview", "demo"),
        ("refresh", "demo"),
        ("destroy", "demo", "--yes"),
        ("outputs", "demo"),
        ("cancel", "demo", "--yes"),
        ("up", "demo", "-o", "json"),
    ],
)
def test_every_stack_command_needs_the_cli_and_writes_nothing(
    sandbox: Path, args: tuple[str, ...]
) -> None:
    result = run("tenants", *args, "--location", "de", "--plan", "trial")
    assert result.exit_code == 3, result.output
    assert "the Pulumi CLI is not installed" in result.stderr
    assert tree(sandbox) == []


def test_destroy_without_yes_exits_2_and_does_nothing(sandbox: Path) -> None:
    result = run("tenants", "destroy", "demo", "--location", "de", "--plan", "trial")
    assert result.exit_code == 2
    assert "add --yes" in result.stderr
    assert tree(sandbox) == []


def test_cancel_without_yes_exits_2(sandbox: Path) -> None:
    result = run("tenants", "cancel", "demo", "--location", "de", "--plan", "trial")
    assert result.exit_code == 2
    assert "--yes" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("up", "Demo", "--location", "de", "--plan", "trial"), "not a DNS label"),
        (("up", "../etc", "--location", "de", "--plan", "trial"), "not a DNS label"),
        (("up", "admin", "--location", "de", "--plan", "trial"), "reserved"),
        (("up", "demo", "--location", "mars", "--plan", "trial"), "unknown location"),
        (("up", "demo", "--location", "de"), "give --plan"),
        (("preview", "demo"), "give --location and --plan"),
    ],
)
def test_bad_input_exits_2_before_anything(
    sandbox: Path, args: tuple[str, ...], message: str
) -> None:
    result = run("tenants", *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert tree(sandbox) == []


def test_s3_backend_without_kms_is_a_usage_error(sandbox: Path) -> None:
    result = run(
        "tenants", "up", "demo", "-l", "de", "-p", "trial", "--backend", "s3://bucket/prefix"
    )
    assert result.exit_code == 2
    assert "--secrets-provider awskms://" in result.stderr
    assert tree(sandbox) == []


def test_backend_from_environment(sandbox: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROVISIONER_BACKEND", "gs://not-supported")
    result = run("tenants", "up", "demo", "-l", "de", "-p", "trial")
    assert result.exit_code == 2
    assert "gs://not-supported" in result.stderr


def test_doctor_reports_everything_and_exits_3_without_the_cli(sandbox: Path) -> None:
    result = run("doctor", "-o", "json")
    assert result.exit_code == 3
    report = json.loads(result.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert report["ready"] is False
    assert checks["pulumi-cli"]["ok"] is False
    assert PULUMI_INSTALL_URL in checks["pulumi-cli"]["detail"]
    assert checks["backend"]["ok"] is True
    assert checks["backend"]["detail"].startswith("local: file://")
    assert "generated on first up" in checks["secrets-provider"]["detail"]
    assert checks["plugins"]["ok"] is False
    assert "--install-plugins" in checks["plugins"]["detail"]
    assert tree(sandbox) == []


def test_doctor_install_plugins_without_the_cli_exits_3(sandbox: Path) -> None:
    result = run("doctor", "--install-plugins")
    assert result.exit_code == 3
    assert "cannot install plugins" in result.stderr
    assert tree(sandbox) == []


def test_doctor_sees_a_cli_and_credentials(
    sandbox: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    binary = fake_pulumi(tmp_path / "bin", "v3.150.0")
    monkeypatch.setenv("PATH", str(binary.parent))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    result = run("doctor", "-o", "json")
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["pulumi-cli"] == {
        "detail": f"{binary} version 3.150.0",
        "name": "pulumi-cli",
        "ok": True,
        "required": True,
    }
    assert checks["aws-credentials"]["ok"] is True
    assert checks["aws-credentials"]["detail"] == "found via env"
    assert "wJalr" not in result.stdout  # never the values
    assert result.exit_code == 3  # the plugin is still missing
    assert tree(sandbox) == []


def test_registered_tenant_supplies_location_and_plan(
    sandbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from provisioner.registry import Registry

    home = sandbox / "home"
    home.mkdir()
    with Registry.open() as registry:
        registry.create_tenant(TenantSpec.create("demo", "de", "standard"), actor="test")
    before = tree(sandbox)
    # Known tenant: no flags needed; the engine then stops at the missing CLI (exit 3).
    result = run("tenants", "preview", "demo")
    assert result.exit_code == 3, result.output
    # Contradicting the registry is refused: a tenant never moves region or plan this way.
    moved = run("tenants", "up", "demo", "--location", "us")
    assert moved.exit_code == 2
    assert "registered in location de" in moved.stderr
    replanned = run("tenants", "up", "demo", "--plan", "trial")
    assert replanned.exit_code == 2
    assert "registered on plan standard" in replanned.stderr
    same = run("tenants", "up", "demo", "--location", "eu-central-1", "--plan", "standard")
    assert same.exit_code == 3  # agreeing flags are fine (a region name resolves to de)
    after = [p for p in tree(sandbox) if "registry.db" not in p]
    assert after == [p for p in before if "registry.db" not in p]
