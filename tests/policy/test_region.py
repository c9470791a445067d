"""The regional platform stack (stacks/region): planned offline for every location, checked by
the regional rules, and each rule failed by a mutation of the real plan."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
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
TRAIL = "aws:cloudtrail/trail:Trail"
BUCKET = "aws:s3/bucket:Bucket"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
PRIVATE = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
ACCESS_LOGGING = "aws:s3/bucketLogging:BucketLogging"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
CERT = "aws:acm/certificate:Certificate"
CERT_VALIDATION = "aws:acm/certificateValidation:CertificateValidation"


def _trail_bucket(inputs: dict) -> bool:
    return inputs.get("bucket") == "region-de-trail-logs-id"


def _access_bucket(inputs: dict) -> bool:
    return inputs.get("bucket") == "region-de-trail-access-logs-id"


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
    # Everything in the location's region but Route 53 (global): the wildcard's validation.
    assert {r["region"] for r in plan["resources"] if r["region"] != "global"} == {region}
    assert {r["type"] for r in plan["resources"] if r["region"] == "global"} == {
        "aws:route53/record:Record"
    }
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
    trail = find(plan, TRAIL)["inputs"]
    # IAM and STS events are delivered to us-east-1: recorded there once, by one trail.
    assert trail["includeGlobalServiceEvents"] is (region == "us-east-1")
    assert trail["isMultiRegionTrail"] is False and trail["enableLogFileValidation"] is True


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


def _bucket_policy(where: Callable[[dict], bool], edit: Callable[[dict], None]
                   ) -> Callable[[Plan], None]:
    def mutate(plan: Plan) -> None:
        res = find(plan, BUCKET_POLICY, where)
        doc = json.loads(res["inputs"]["policy"])
        edit(doc)
        res["inputs"]["policy"] = json.dumps(doc)

    return mutate


def _without(sid: str) -> Callable[[dict], None]:
    def edit(doc: dict) -> None:
        doc["Statement"] = [st for st in doc["Statement"] if st.get("Sid") != sid]

    return edit


def _named(name: str, edit: Callable[[dict], object]) -> Callable[[Plan], None]:
    def mutate(plan: Plan) -> None:
        (res,) = [r for r in plan["resources"] if r["name"] == name]
        edit(res["inputs"])

    return mutate


def _expiry(days: float, where: Callable[[dict], bool] = _trail_bucket) -> Callable[[Plan], None]:
    return _edit(LIFECYCLE, lambda i: i["rules"][0]["expiration"].update(days=days), where)


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
    ("REG-006", "no-trail", _drop(TRAIL, lambda i: True), True),
    ("REG-006", "logging-off", _edit(TRAIL, lambda i: i.update(enableLogging=False)), True),
    ("REG-006", "read-only-events", _edit(TRAIL, lambda i: i["eventSelectors"][0].update(
        readWriteType="ReadOnly")), True),
    ("REG-006", "no-management-events", _edit(TRAIL, lambda i: i["eventSelectors"][0].update(
        includeManagementEvents=False)), True),
    ("REG-006", "another-region", _edit(TRAIL, lambda i: i.update(region="eu-west-1")), True),
    ("REG-006", "cloudtrail-cannot-write", _bucket_policy(
        lambda i: i["bucket"] == "region-de-trail-logs-id", _without("CloudTrailWrite")), True),
    ("REG-006", "default-selectors", _edit(TRAIL, lambda i: i.pop("eventSelectors")), False),
    ("REG-006", "multi-region-elsewhere", _edit(TRAIL, lambda i: i.update(
        region="eu-west-1", isMultiRegionTrail=True)), False),
    ("REG-007", "no-validation", _edit(TRAIL, lambda i: i.update(
        enableLogFileValidation=False)), True),
    ("REG-007", "unencrypted", _edit(TRAIL, lambda i: i.pop("kmsKeyId")), True),
    ("REG-007", "aws-managed-key", _edit(TRAIL, lambda i: i.update(
        kmsKeyId="alias/aws/cloudtrail")), True),
    ("REG-007", "key-refuses-cloudtrail", _policy(_without("TrailEncrypts"), KEY), True),
    ("REG-007", "key-by-alias", _edit(TRAIL, lambda i: i.update(
        kmsKeyId="alias/provisioner-alerts")), False),
    ("REG-008", "public-policy-allowed", _edit(PRIVATE, lambda i: i.update(
        blockPublicPolicy=False), _trail_bucket), True),
    ("REG-008", "no-public-access-block", _drop(PRIVATE, _access_bucket), True),
    ("REG-008", "plaintext-allowed", _bucket_policy(_access_bucket,
                                                    _without("DenyInsecureTransport")), True),
    ("REG-008", "tls-deny-on-all-actions", _bucket_policy(_trail_bucket, lambda d: [
        st.update(Action="*") for st in d["Statement"] if st["Sid"] == "DenyInsecureTransport"]),
     False),
    ("REG-009", "not-versioned", _edit(VERSIONING, lambda i: i["versioningConfiguration"].update(
        status="Suspended")), True),
    ("REG-009", "no-access-logging", _drop(ACCESS_LOGGING, lambda i: True), True),
    ("REG-009", "logs-into-itself", _edit(ACCESS_LOGGING, lambda i: i.update(
        targetBucket="region-de-trail-logs-id")), True),
    ("REG-009", "sse-s3", _edit(SSE, lambda i: i.update(rules=[
        {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]), _trail_bucket),
     True),
    ("REG-009", "kept-90-days", _expiry(90.0), True),
    ("REG-009", "access-logs-kept-30-days", _expiry(30.0, _access_bucket), True),
    ("REG-009", "force-destroyed", _named("region-de-trail-logs", lambda i: i.update(
        forceDestroy=True)), True),
    ("REG-009", "kept-two-years", _expiry(730.0), False),
    ("REG-010", "no-mail-names", _edit(CERT, lambda i: i.update(subjectAlternativeNames=[])),
     True),
    ("REG-010", "another-domain", _edit(CERT, lambda i: i.update(
        domainName="*.other.example", subjectAlternativeNames=["*.mail.other.example"])), True),
    ("REG-010", "email-validated", _edit(CERT, lambda i: i.update(validationMethod="EMAIL")),
     True),
    ("REG-010", "never-waited-for", _drop(CERT_VALIDATION, lambda i: True), True),
    ("REG-010", "no-record-for-mail", _edit(CERT_VALIDATION, lambda i: i.update(
        validationRecordFqdns=i["validationRecordFqdns"][:1])), True),
    ("REG-010", "rsa-key", _edit(CERT, lambda i: i.update(keyAlgorithm="RSA_2048")), False),
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
    # Neither --subscribe nor the environment: regions.yaml's `alerts` decide.
    result = runner.invoke(app, ["region", "plan", "de", "-o", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["region"]["subscriptions"] == [
        "email:platform-alerts@crm.example.com"]
    monkeypatch.setenv("PROVISIONER_ALERT_SUBSCRIPTIONS", "email:ops@example.com")
    result = runner.invoke(app, ["region", "check", "uk", "-o", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["region"]["region"] == "eu-west-2"
    result = runner.invoke(app, ["region", "check", "mars"])
    assert result.exit_code == 2 and "unknown location" in result.output


def test_nobody_subscribed_fails() -> None:
    from provisioner.region_plan import check_region

    report = check_region(RegionSpec.create("de", []))
    assert [f.rule_id for f in report.failures] == ["REG-002"]


def test_subscriptions_configured_per_location(tmp_path: Path) -> None:
    from provisioner.errors import ConfigError
    from provisioner.paths import PROJECT_ROOT
    from provisioner.regions import load_catalogue

    text = (PROJECT_ROOT / "regions.yaml").read_text()
    head, _, tail = text.partition("\nalerts:\n")
    assert tail, "regions.yaml has an alerts section"
    body = tail.split("\nlocations:\n", 1)[1]
    path = tmp_path / "regions.yaml"

    def write(alerts: str) -> None:
        path.write_text(f"{head}\nalerts:\n{alerts}\nlocations:\n{body}")

    write('  all: ["email:ops@example.com"]\n'
          '  jp: ["sqs:arn:aws:sqs:ap-northeast-1:123456789012:pager"]\n')
    cat = load_catalogue(path)
    assert [str(s) for s in RegionSpec.configured("jp", cat).subscriptions] == [
        "email:ops@example.com", "sqs:arn:aws:sqs:ap-northeast-1:123456789012:pager"]
    assert [str(s) for s in RegionSpec.configured("de", cat).subscriptions] == [
        "email:ops@example.com"]
    write('  mars: ["email:ops@example.com"]\n')
    with pytest.raises(ConfigError, match="unknown location"):
        RegionSpec.configured("de", load_catalogue(path))
    write('  de: "email:ops@example.com"\n')
    with pytest.raises(ConfigError, match="must be a list"):
        RegionSpec.configured("de", load_catalogue(path))
    write('  all: ["sqs:arn:aws:sqs:us-east-1:123456789012:q"]\n')  # an ARN of another region
    with pytest.raises(UsageError, match="not eu-central-1"):
        RegionSpec.configured("de", load_catalogue(path))
