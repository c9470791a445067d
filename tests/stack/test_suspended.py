"""A suspended tenant: service stopped, data and every promise kept; resuming is an update."""

from __future__ import annotations

import pytest

from provisioner.policy import evaluate
from provisioner.spec import TenantSpec
from provisioner.synth import synth_plan
from tests.stack.conftest import Plan

LISTENER = "aws:lb/listener:Listener"
POWER = "aws:ec2transitgateway/instanceState:InstanceState"


@pytest.fixture(scope="module")
def running_and_suspended() -> tuple[Plan, Plan]:
    spec = TenantSpec.create("acme", "uk", "standard")
    return Plan(spec, synth_plan(spec)), Plan(spec, synth_plan(spec, suspended=True))


def _https(plan: Plan) -> dict:
    return next(r for r in plan.of_type(LISTENER) if r["inputs"]["port"] == 443)


def test_running_tenant_forwards_https_to_the_app_and_runs_the_server(
    running_and_suspended: tuple[Plan, Plan],
) -> None:
    running, _ = running_and_suspended
    assert [a["type"] for a in _https(running)["inputs"]["defaultActions"]] == ["forward"]
    assert running.one(POWER)["inputs"]["state"] == "running"


def test_suspended_tenant_answers_503_over_https_and_stops_the_server(
    running_and_suspended: tuple[Plan, Plan],
) -> None:
    _, suspended = running_and_suspended
    action = _https(suspended)["inputs"]["defaultActions"][0]
    assert action["type"] == "fixed-response"
    assert action["fixedResponse"]["statusCode"] == "503"
    power = suspended.one(POWER)
    assert power["inputs"]["state"] == "stopped"
    assert power["inputs"]["instanceId"] == suspended.id(suspended.one("aws:ec2/instance:Instance"))


def test_suspension_keeps_the_data_resources_identical(
    running_and_suspended: tuple[Plan, Plan],
) -> None:
    running, suspended = running_and_suspended
    changed = {
        r["urn"] for r, s in zip(running.resources, suspended.resources, strict=True) if r != s
    }
    assert [r["urn"] for r in running.resources] == [s["urn"] for s in suspended.resources]
    app_alarms = {"alarms-lb-5xx-rate", "alarms-unhealthy-targets", "alarms-server-system-status",
                  "alarms-server-instance-status"}
    assert {u.rsplit("::", 1)[1] for u in changed} == {"edge-https", "compute-power", *app_alarms}
    # The app's alarms are off while the server is stopped, and only those: the database's and
    # the certificate's keep watching the data.
    for res in suspended.of_type("aws:cloudwatch/metricAlarm:MetricAlarm"):
        assert res["inputs"]["actionsEnabled"] is (res["name"] not in app_alarms), res["name"]
    for res in running.of_type("aws:cloudwatch/metricAlarm:MetricAlarm"):
        assert res["inputs"]["actionsEnabled"] is True, res["name"]


def test_suspended_tenant_still_keeps_every_promise(
    running_and_suspended: tuple[Plan, Plan],
) -> None:
    _, suspended = running_and_suspended
    report = evaluate(suspended.data)
    assert report.passed and not report.failures
