"""`incident open --audit` against moto's server: each affected tenant's live audit is
snapshotted onto the incident's timeline; when AWS cannot be reached the incident still opens
and the timeline says why there is no snapshot."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from provisioner.cli.main import app

from .builder import Built, client
from .test_cli_audit import _registry_tenant, cli  # noqa: F401  (the fixture, reused)


def _open(cli: CliRunner) -> dict:  # noqa: F811
    args = ["incident", "open", "--title", "keys exposed", "--discovered-at", "2026-04-01",
            "--locations", "de", "--audit", "-o", "json"]  # fmt: skip
    result = cli.invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _timeline(cli: CliRunner, incident: int) -> list[dict]:  # noqa: F811
    shown = cli.invoke(app, ["incident", "show", str(incident), "-o", "json"])
    return json.loads(shown.stdout)["timeline"]


def test_the_live_audit_of_each_affected_tenant_goes_on_the_timeline(
    cli: CliRunner, tenant: Built  # noqa: F811
) -> None:
    _registry_tenant(tenant.slug)
    client("rds", tenant.region).modify_db_instance(
        DBInstanceIdentifier=f"t-{tenant.slug}-db", PubliclyAccessible=True
    )
    opened = _open(cli)
    assert opened["audits"] == [{"tenant": tenant.slug, "result": "findings"}]
    [audit] = [e for e in _timeline(cli, opened["id"]) if e["kind"] == "audit"]
    report = audit["data"]["report"]
    assert audit["data"]["tenant"] == tenant.slug and report["passed"] is False
    assert "rds.not-public" in {f["rule"] for f in report["findings"]}


def test_unreachable_aws_is_recorded_and_the_incident_still_opens(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    _registry_tenant("acme900")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # discard port: refused
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    opened = _open(cli)
    assert opened["audits"][0]["result"].startswith("unavailable: cannot reach AWS")
    kinds = [e["kind"] for e in _timeline(cli, opened["id"])]
    assert kinds == ["opened", "audit.unavailable"]
