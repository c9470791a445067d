"""The policy check before `up`: refuse on a mandatory failure unless --force-policy (logged)."""

from __future__ import annotations

import logging

import pytest

from provisioner.engine.progress import EventRecord
from provisioner.errors import CheckFailed
from provisioner.policy import Finding, PolicyReport, Severity
from provisioner.policy.gate import policy_gate
from provisioner.spec import TenantSpec

TLS = Finding(
    rule_id="tls-modern",
    severity=Severity.mandatory,
    urn="urn:pulumi:tenant-demo::tenant::aws:lb/listener:Listener::t-demo-https",
    message="listener allows TLS 1.0",
)
ADVICE = Finding(
    rule_id="tags",
    severity=Severity.advisory,
    urn="urn:pulumi:tenant-demo::tenant::aws:ec2/vpc:Vpc::t-demo-vpc",
    message="missing cost-centre tag",
)


def report(*failures: Finding) -> PolicyReport:
    return PolicyReport(
        tenant={"slug": "demo"},
        rules_checked=("tls-modern", "tags"),
        failures=failures,
        resources_checked=33,
    )


def test_a_mandatory_failure_refuses_up(spec: TenantSpec) -> None:
    with pytest.raises(CheckFailed) as info:
        policy_gate(spec, force=False, check=lambda s: report(TLS, ADVICE))
    assert info.value.exit_code == 1
    assert "tls-modern" in str(info.value) and "listener allows TLS 1.0" in str(info.value)
    assert "tags" not in str(info.value)  # advisory findings do not block
    assert "--force-policy" in str(info.value)


def test_advisory_findings_alone_pass(spec: TenantSpec) -> None:
    assert policy_gate(spec, force=False, check=lambda s: report(ADVICE)) == 33


def test_force_policy_deploys_but_logs_and_emits(
    spec: TenantSpec, caplog: pytest.LogCaptureFixture
) -> None:
    events: list[EventRecord] = []
    with caplog.at_level(logging.WARNING, logger="provisioner.tenants"):
        total = policy_gate(spec, force=True, emit=events.append, check=lambda s: report(TLS))
    assert total == 33
    assert "--force-policy" in caplog.text and "tls-modern" in caplog.text
    (event,) = events
    assert event.kind == "notice" and event.severity == "warning"
    assert "despite 1 failure(s)" in (event.message or "")


def test_the_real_check_passes_the_tenant_program(spec: TenantSpec) -> None:
    """The default check is issue 3's offline plan; the shipped program must pass it."""
    assert policy_gate(spec, force=False) > 10
