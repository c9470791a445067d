"""The regional platform stack (stacks/region): planned offline for every location, checked by
the regional rules, and each rule failed by a mutation of the real plan."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from typer.testing import CliRunner

from provisioner.cli.main import app
from provisioner.errors import UsageError
from provisioner.policy.rules.regional import REGION_RULES
from provisioner.region_plan import evaluate_region, plan_region
from provisioner.region_spec import RegionSpec
from provisioner.regions import LOCATION_CODES
from tests.policy.helpers import find

Plan = dict[str, Any]
_CACHE: dict[str, Plan] = {}
TOPIC = "aws:sns/topic:Topic"
RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
KEY = "aws:kms/key:Key"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"


def region_plan(location: str = "de") -> Plan:
    if location not in _CACHE:
        spec = RegionSpec.create(location, ["email:ops@example.com"])
        _CACHE[location] = plan_region(spec)
    return copy.deepcopy(_CACHE[location])


@pytest.mark.parametrize("location", LOCATION_CODES)
def test_every_location_plans_and_passes(location: str) -> None:
    plan = region_plan(location)
    report = evaluate_region(plan)
    assert report.passed and not report.failures, [f.message for f in report.failures]
    region = plan["region"]["region"]
    assert {r["region"] for r in plan["resources"]} == {region}
    topic = find(plan, TOPIC)["inputs"]
    assert topic["name"] == "provisioner-alerts"
    patterns = [json.loads(r["inputs"]["eventPattern"]) for r in plan["resources"]
                if r["type"] == RULE]
    kinds = {p["detail-type"][0]: p["detail"] for p in patterns}
    assert kinds["Backup Job State Change"]["state"][0] == "FAILED"
    assert kinds["Copy Job State Change"] == {"state": ["FAILED"]}
    assert kinds["Restore Job State Change"] == {"status": ["FAILED"]}
    assert kinds["AWS API Call via CloudTrail"]["eventName"] == ["DisableKey",
                                                                 "ScheduleKeyDeletion"]


def test_tenant_alarms_address_the_regional_topic() -> None:
    """The tenant stack computes the topic's ARN from its name: the two must agree."""
    from provisioner.spec import TenantSpec
    from provisioner.synth import mock_arn, synth_plan

    plan = region_plan("jp")
    topic = find(plan, TOPIC)
    arn = mock_arn(topic["type"], topic["name"], "ap-northeast-1", "123456789012",
                   topic["inputs"])
    tenant = synth_plan(TenantSpec.create("demo", "jp", "trial"))
    actions = {a for r in tenant["resources"] if r["type"].endswith("MetricAlarm")
               for a in r["inputs"]["alarmActions"]}
    assert arn in actions


def _edit(type_: str, edit: Callable[[dict], object], where: Callable[[dict], bool] | None
          = None) -> Callable[[Plan], None]:
    def mutate(plan: Plan) -> None:
        edit(find(plan, type_, where)["inputs"])

    return mutate


def _drop(type_: str, where: Callable[[dict], bool]) -> Callable[[Plan], None]:
    def mutate(plan: Plan) -> None:
        plan["resources"] = [r for r in plan["resources"]
                             if not (r["type"] == type_ and where(r["inputs"]))]

    return mutate


def _policy(edit: Callable[[dict], None], type_: str = TOPIC_POLICY) -> Callable[[Plan], None]:
    def mutate(plan: Plan) -> None:
        res = find(plan, type_)
        doc = json.loads(res["inputs"]["policy"])
        edit(doc)
        res["inputs"]["policy"] = json.dumps(doc)

    return mutate


def _pattern(name: str, edit: Callable[[dict], None]) -> Callable[[Plan], None]:
    def mutate(plan: Plan) -> None:
        res = find(plan, RULE, lambda i: i.get("name") == f"provisioner-{name}")
        pattern = json.loads(res["inputs"]["eventPattern"])
        edit(pattern)
        res["inputs"]["eventPattern"] = json.dumps(pattern)

    return mutate


def _publishers(services: list[str]) -> Callable[[dict], None]:
    def edit(doc: dict) -> None:
        for statement in doc["Statement"]:
            if "Service" in statement.get("Principal", {}):
                statement["Principal"]["Service"] = services

    return edit


CASES: list[tuple[str, str, Callable[[Plan], None], bool]] = [
    ("REG-001", "renamed-topic", _edit(TOPIC, lambda i: i.update(name="alerts")), True),
    ("REG-001", "unencrypted", _edit(TOPIC, lambda i: i.pop("kmsMasterKeyId")), True),
    ("REG-001", "aws-managed-key", _edit(TOPIC, lambda i: i.update(
        kmsMasterKeyId="alias/aws/sns")), True),
    ("REG-001", "no-rotation", _edit(KEY, lambda i: i.update(enableKeyRotation=False)), True),
    ("REG-001", "display-name", _edit(TOPIC, lambda i: i.update(displayName="x")), False),
    ("REG-002", "no-subscription", _drop(SUBSCRIPTION, lambda i: True), True),
    ("REG-002", "plaintext-http", _edit(SUBSCRIPTION, lambda i: i.update(
        protocol="http", endpoint="http://pager.example/hook")), True),
    ("REG-002", "https-hook", _edit(SUBSCRIPTION, lambda i: i.update(
        protocol="https", endpoint="https://pager.example/hook")), False),
    ("REG-003", "no-copy-rule", _drop(RULE, lambda i: "copy" in i["name"]), True),
    ("REG-003", "restore-rule-disabled", _edit(RULE, lambda i: i.update(state="DISABLED"),
                                              lambda i: "restore" in i["name"]), True),
    ("REG-003", "backup-rule-unrouted", _drop(TARGET, lambda i: "backup-job" in i["rule"]),
     True),
    ("REG-003", "restore-matched-on-state", _pattern("restore-job-failed", lambda p: p.update(
        detail={"state": ["FAILED"]})), True),
    ("REG-003", "backup-rule-also-aborted", _pattern("backup-job-failed", lambda p: p.update(
        detail={"state": ["FAILED", "ABORTED"]})), False),
    ("REG-004", "no-key-rule", _drop(RULE, lambda i: "key" in i["name"]), True),
    ("REG-004", "only-deletion", _pattern("key-disabled-or-deleted", lambda p: p["detail"].update(
        eventName=["ScheduleKeyDeletion"])), True),
    ("REG-004", "also-deletion-cancelled", _pattern(
        "key-disabled-or-deleted", lambda p: p["detail"]["eventName"].append(
            "CancelKeyDeletion")), False),
    ("REG-005", "events-cannot-publish", _policy(_publishers(["cloudwatch.amazonaws.com"])),
     True),
    ("REG-005", "no-topic-policy", _drop(TOPIC_POLICY, lambda i: True), True),
    ("REG-005", "key-refuses-cloudwatch", _policy(_publishers(["events.amazonaws.com"]), KEY),
     True),
    ("REG-005", "publish-by-wildcard", _policy(lambda d: d["Statement"][0].update(
        Action=["sns:*"])), False),
    ("ISO-002", "topic-open-to-all", _policy(lambda d: d["Statement"].append(
        {"Effect": "Allow", "Principal": "*", "Action": "sns:Subscribe", "Resource": "*"})),
     True),
    ("ISO-002", "scoped-to-account", _policy(lambda d: d["Statement"].append(
        {"Effect": "Allow", "Principal": "*", "Action": "sns:Subscribe", "Resource": "*",
         "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}}})), False),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-{'fail' if c[3] else 'pass'}-{c[1]}")
def test_region_mutation(case: tuple[str, str, Callable[[Plan], None], bool]) -> None:
    rule_id, _, mutate, fails = case
    plan = region_plan()
    mutate(plan)
    found = [f for f in evaluate_region(plan).failures if f.rule_id == rule_id]
    assert bool(found) is fails, [f.message for f in found]
    assert not any(f.message.startswith("could not check") for f in found)


def test_every_region_rule_has_a_failing_and_a_passing_mutation() -> None:
    ids = {r.id for r in REGION_RULES}
    assert {c[0] for c in CASES if c[3]} == ids
    assert {c[0] for c in CASES if not c[3]} == ids


@pytest.mark.parametrize("bad", ["email:nobody", "http://pager.example/h", "sms:+4912345",
                                 "sqs:arn:aws:sqs:us-east-1:123456789012:q", "https:"])
def test_bad_subscriptions_are_refused(bad: str) -> None:
    with pytest.raises(UsageError):
        RegionSpec.create("de", [bad])


@pytest.mark.parametrize(("bad", "says"), [
    ("http://pager.example/h", "use https:// (alerts never travel in plaintext)"),
    ("https://", "the URL has no host"),
    ("lambda:foo", "not the ARN of a Lambda function (arn:aws:lambda:REGION:ACCOUNT:...)"),
    ("sqs:queue", "not the ARN of an SQS queue"),
])
def test_bad_subscriptions_say_what_is_wrong(bad: str, says: str) -> None:
    with pytest.raises(UsageError) as raised:
        RegionSpec.create("de", [bad])
    assert says in str(raised.value)


def test_region_cli_plans_and_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    monkeypatch.delenv("PROVISIONER_ALERT_SUBSCRIPTIONS", raising=False)
    result = runner.invoke(app, ["region", "plan", "de", "-s", "email:ops@example.com",
                                 "-o", "json"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan["region"]["subscriptions"] == ["email:ops@example.com"]
    assert runner.invoke(app, ["region", "check", "de"]).exit_code == 1  # nobody alerted
    monkeypatch.setenv("PROVISIONER_ALERT_SUBSCRIPTIONS", "email:ops@example.com")
    result = runner.invoke(app, ["region", "check", "uk", "-o", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["region"]["region"] == "eu-west-2"
    result = runner.invoke(app, ["region", "check", "mars"])
    assert result.exit_code == 2 and "unknown location" in result.output
