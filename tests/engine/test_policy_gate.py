"""The policy check before `up`: refuse on a mandatory failure unless --force-policy (logged)."""

from __future__ import annotations

import logging
from pathlib import Path

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


# --- the gate checks exactly what the engine applies ------------------------------------------


def _plan_facts(plan: dict[str, object]) -> tuple[str, str]:
    """(the zone of the app server's data volume, its power state) as the plan has them."""
    resources = plan["resources"]
    assert isinstance(resources, list)
    zone = next(r["inputs"]["availabilityZone"] for r in resources
                if r["type"] == "aws:ebs/volume:Volume")  # fmt: skip
    power = next(r["inputs"]["state"] for r in resources
                 if r["type"] == "aws:ec2transitgateway/instanceState:InstanceState")  # fmt: skip
    return zone, power


class PlanningCheck:
    """The real offline plan and rules, recording what each plan really contained, and breaking
    one promise (a public database) in the plans whose app server sits in `refuse_zone`."""

    def __init__(self, refuse_zone: str | None = None) -> None:
        self.planned: list[tuple[str, str]] = []
        self.refuse_zone = refuse_zone

    def __call__(self, deployment: object) -> PolicyReport:
        from provisioner.policy import evaluate
        from provisioner.policy.gate import Deployment
        from provisioner.synth import synth_plan

        assert isinstance(deployment, Deployment)
        plan = synth_plan(deployment.spec, app_zone=deployment.zone,
                          suspended=deployment.suspended)  # fmt: skip
        facts = _plan_facts(plan)
        self.planned.append(facts)
        if facts[0] == self.refuse_zone:
            for res in plan["resources"]:
                if res["type"] == "aws:rds/instance:Instance":
                    res["inputs"]["publiclyAccessible"] = True
        return evaluate(plan)


def test_a_zone_retry_is_gated_with_the_zone_it_applies(tmp_path: Path, spec: TenantSpec) -> None:
    from provisioner.policy.gate import Gate
    from tests.engine.test_engine_loop import (
        ScriptedEngine,
        ScriptedStack,
        capacity_text,
        cli_failure,
        up_ok,
    )

    zones = spec.location.zones
    check = PlanningCheck()
    stack = ScriptedStack([cli_failure("error: update failed", capacity_text(zones[0], zones[1])),
                           up_ok(create=1)])  # fmt: skip
    result = ScriptedEngine(tmp_path, stack).up(spec, gate=Gate(check=check))
    assert result.zone == zones[1]
    assert check.planned == [(zones[0], "running"), (zones[1], "running")]

    refusing = PlanningCheck(refuse_zone=zones[1])
    stack = ScriptedStack([cli_failure("error: update failed", capacity_text(zones[0], zones[1])),
                           up_ok(create=1)])  # fmt: skip
    with pytest.raises(CheckFailed, match=f"in zone {zones[1]}.*nothing was deployed"):
        ScriptedEngine(tmp_path, stack).up(spec, gate=Gate(check=refusing))
    assert [verb for verb, _ in stack.calls].count("up") == 1  # the retry never ran


def test_the_worker_gates_the_suspended_shape_it_applies(tmp_path: Path, spec: TenantSpec) -> None:
    from provisioner.worker import PulumiStackEngine
    from tests.engine.test_engine_loop import ScriptedEngine, ScriptedStack, up_ok

    check = PlanningCheck()
    engine = ScriptedEngine(tmp_path, ScriptedStack([up_ok(create=1), up_ok(update=1)]))
    adapter = PulumiStackEngine(engine, check=check)
    adapter.suspend(spec)
    adapter.up(spec)
    assert engine.suspended == [True, False]  # what the engine applied ...
    zone = spec.location.zones[0]
    assert check.planned == [(zone, "stopped"), (zone, "running")]  # ... is what was checked


def test_a_program_version_this_checkout_does_not_hold_is_refused(spec: TenantSpec) -> None:
    from provisioner.policy.gate import Deployment, check_deployment
    from stacks.tenant_stack import PROGRAM_VERSION

    assert check_deployment(Deployment(spec, program_version=PROGRAM_VERSION)).passed
    with pytest.raises(CheckFailed, match=r"program version 1999\.1\.1 is to be deployed"):
        check_deployment(Deployment(spec, program_version="1999.1.1"))
