"""`provisioner audit` through Typer's CliRunner against moto's server: exit codes and output."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from provisioner.audit.clients import Clients
from provisioner.cli.main import app

from .builder import Built, build_tenant, client, destroy_tenant, stub_selection
from .stubs import BackupStubs


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, stubs: BackupStubs, aws: str) -> CliRunner:
    """The CLI, with Stubbers attached to its backup clients (moto lacks selections)."""
    monkeypatch.setattr(
        "provisioner.audit.default_clients", lambda: Clients(on_new_client=stubs.attach)
    )
    return CliRunner()


def run(cli: CliRunner, *args: str, sweep: bool = False):
    """Invoke the CLI; without `sweep` the residency sweep covers one foreign region only
    (moto answers ~38 regions, ~0.1 s each on first use)."""
    extra = (
        []
        if sweep or args[0] != "audit" or "--deleted" in args
        else ["--residency-region", "us-east-1"]
    )
    return cli.invoke(app, [*args, *extra], catch_exceptions=False)


def test_compliant_tenant_exits_0_with_json_report(cli: CliRunner, tenant: Built) -> None:
    result = run(cli, "audit", tenant.slug, "--location", "de", "-o", "json", sweep=True)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["passed"] is True
    swept = report["checked"]["residency.region"]
    assert "region:ap-southeast-2" in swept  # every region moto reports as enabled
    assert "region:eu-central-1" not in swept  # the tenant's own
    assert report["findings"] == []
    assert report["tenant"] == tenant.slug


def test_finding_exits_1_and_names_rule_and_arn(cli: CliRunner, tenant: Built) -> None:
    client("elbv2", tenant.region).modify_listener(
        ListenerArn=tenant.https_arn, SslPolicy="ELBSecurityPolicy-2016-08"
    )
    result = run(cli, "audit", tenant.slug, "--location", "de")
    assert result.exit_code == 1
    assert "alb.tls-policy" in result.stdout
    assert "FAIL: 1 finding(s)" in result.stdout


def test_an_api_the_endpoint_lacks_exits_3_in_one_line(aws: str, tenant: Built) -> None:
    """moto's server has no AWS Backup selections or recovery points: an audit run against it
    without the test's Stubbers must say so (an environment problem, exit 3), not report a
    failed check (exit 1) with the server's HTML page."""
    for args in (["audit", tenant.slug, "--location", "de", "-o", "json"],
                 ["audit", tenant.slug, "--location", "de", "--deleted"]):
        result = CliRunner().invoke(app, args, catch_exceptions=False)
        assert result.exit_code == 3, result.output
        (line,) = result.stderr.strip().splitlines()
        assert "does not implement" in line and "<" not in line, line
        assert result.stdout == ""


def test_unknown_tenant_without_location_is_usage_error(cli: CliRunner) -> None:
    result = run(cli, "audit", "ghost")
    assert result.exit_code == 2
    assert "give --location" in result.stderr


def test_bad_location_is_usage_error_before_any_call(cli: CliRunner) -> None:
    result = run(cli, "audit", "acme", "--location", "mars")
    assert result.exit_code == 2
    assert "unknown location 'mars'" in result.stderr


def test_unreachable_endpoint_exits_3(cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # discard port: refused
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    result = run(cli, "audit", "acme", "--location", "de")
    assert result.exit_code == 3
    assert "cannot reach AWS (AWS_ENDPOINT_URL=http://127.0.0.1:9)" in result.stderr


def test_no_credentials_exits_3(cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance-metadata lookups
    result = run(cli, "audit", "acme", "--location", "de")
    assert result.exit_code == 3
    assert "no usable AWS credentials" in result.stderr


def _registry_tenant(slug: str, trial: bool = False):
    from provisioner.registry import Registry
    from provisioner.spec import TenantSpec

    start = datetime(2026, 1, 1, tzinfo=UTC)
    with Registry.open() as reg:
        reg.create_tenant(
            TenantSpec.create(slug, "de", "trial" if trial else "standard"),
            actor="test",
            at=start,
            trial_days=14 if trial else None,
        )
        if trial:  # trial ended Jan 15: deleted 12 days later by the retention clock
            reg.retention_apply(start + timedelta(days=40), actor="test")
            assert reg.get_tenant(slug).desired_state == "deleted"


def test_registry_supplies_location_and_all_audits_every_live_tenant(
    cli: CliRunner, tenant: Built, stubs: BackupStubs, slug: str
) -> None:
    _registry_tenant(tenant.slug)
    other = build_tenant(f"{slug}b", "de")
    stub_selection(stubs, other)  # answers by plan id: both tenants share the stubs
    _registry_tenant(other.slug)
    assert run(cli, "audit", tenant.slug).exit_code == 0
    result = run(cli, "audit", "--all", "-o", "json")
    summary = json.loads(result.stdout)
    assert {t["tenant"] for t in summary["tenants"]} == {tenant.slug, other.slug}
    client("rds", other.region).modify_db_instance(
        DBInstanceIdentifier=f"t-{other.slug}-db", PubliclyAccessible=True
    )
    result = run(cli, "audit", "--all", "-o", "json")
    assert result.exit_code == 1
    failed = [t for t in json.loads(result.stdout)["tenants"] if not t["passed"]]
    assert [t["tenant"] for t in failed] == [other.slug]


def test_deleted_stores_evidence_only_when_nothing_remains(
    cli: CliRunner, tenant: Built, stubs: BackupStubs
) -> None:
    from provisioner.registry import Registry

    stubs.on("ListRecoveryPointsByBackupVault", {"RecoveryPoints": []})
    _registry_tenant(tenant.slug, trial=True)
    result = run(cli, "audit", tenant.slug, "--deleted", "-o", "json")
    assert result.exit_code == 1  # the stack is still there
    assert json.loads(result.stdout)["stored"] is False
    destroy_tenant(tenant)
    result = run(cli, "audit", tenant.slug, "--deleted", "-o", "json")
    assert result.exit_code == 0, result.output
    proof = json.loads(result.stdout)
    assert proof["stored"] is True
    with Registry.open() as reg:
        evidence = reg.get_tenant(tenant.slug).deletion_evidence
    assert evidence is not None
    assert evidence["passed"] is True
    assert evidence == {k: v for k, v in proof.items() if k != "stored"}  # the report, as is
    assert {k["state"] for k in evidence["keys"]} == {"PendingDeletion"}
