"""Rules for a location's platform stack (stacks/region): alerts that reach someone.

- REG-001: the alert topic exists under its agreed name (tenant alarms address it by name) and
  is encrypted with a rotated customer-managed key of the plan;
- REG-002: someone is subscribed, and never over plaintext HTTP;
- REG-003: AWS Backup backup-, copy- and restore-job failures reach the topic;
- REG-004: KMS DisableKey and ScheduleKeyDeletion calls reach the topic;
- REG-005: the topic's and the key's policies let EventBridge and CloudWatch publish (without
  that, every alert is dropped silently);
- REG-006: a CloudTrail trail with logging on records the region's write management events
  into a bucket of the plan that lets it write: without a trail EventBridge receives no "AWS
  API Call via CloudTrail" event and REG-004's rule never fires
  (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event-cloudtrail.html);
- REG-007: the trail's files are signed (log file validation) and encrypted under a rotated
  customer key of the plan whose policy lets CloudTrail use it;
- REG-008: every bucket of the stack is private (all four public access blocks) and TLS-only;
- REG-009: the trail's bucket is versioned, encrypted by default under a key of the plan,
  server-access-logged to another bucket of the plan (S3.9 / CKV_AWS_18), never force-destroyed,
  and it and its access-log bucket keep objects at least a year.
- REG-010: the warm pools' wildcard certificate covers `*.<domain>` and `*.mail.<domain>` (the
  names a bound pooled instance serves: a wildcard covers one label), is validated by DNS, and
  its validation waits on a record for every name (or pooled instances are served by no
  certificate, or one that never issues).
Plus ISO-002 (no grant to everyone or another account), shared with tenant plans.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterator, Mapping
from typing import Any

from provisioner.policy.graph import Graph, Resource, as_list, as_number, truthy
from provisioner.policy.model import Rule, Severity, Violation
from provisioner.policy.refs import key_verdict
from provisioner.policy.rules import grants
from provisioner.policy.rules.exposure import check_bucket_public_access
from provisioner.policy.rules.transport import check_bucket_tls
from provisioner.promises import ALERT_TOPIC_NAME

TOPIC = "aws:sns/topic:Topic"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
KEY = "aws:kms/key:Key"
ALIAS = "aws:kms/alias:Alias"
PUBLISHERS = ("events.amazonaws.com", "cloudwatch.amazonaws.com")
BACKUP_FAILURES = (
    ("Backup Job State Change", "state"),
    ("Copy Job State Change", "state"),
    ("Restore Job State Change", "status"),
)
KEY_EVENTS = ("DisableKey", "ScheduleKeyDeletion")
TRAIL = "aws:cloudtrail/trail:Trail"
BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
ACCESS_LOGGING = "aws:s3/bucketLogging:BucketLogging"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
ENCRYPTION = ("aws:s3/bucketServerSideEncryptionConfiguration:"
              "BucketServerSideEncryptionConfiguration")
CLOUDTRAIL = "cloudtrail.amazonaws.com"
CERTIFICATE = "aws:acm/certificate:Certificate"
CERTIFICATE_VALIDATION = "aws:acm/certificateValidation:CertificateValidation"
MIN_TRAIL_RETENTION_DAYS = 365  # a year, like the tenants' security logs


def alert_topics(g: Graph) -> list[Resource]:
    return [t for t in g.of_type(TOPIC) if t.inputs.get("name") == ALERT_TOPIC_NAME]


def check_topic(g: Graph) -> Iterator[Violation]:
    topics = alert_topics(g)
    if not topics:
        yield Violation(g.stack_urn, f"no SNS topic named {ALERT_TOPIC_NAME}: tenant alarms"
                                     " notify nobody")
    for topic in topics:
        verdict = key_verdict(g, topic.inputs.get("kmsMasterKeyId"))
        v = verdict.violation(topic.urn, f"alert topic {topic.name} is not encrypted under the"
                                         " platform's own key")
        if v:
            yield v


def check_subscriptions(g: Graph) -> Iterator[Violation]:
    for topic in alert_topics(g):
        subs = g.referrers(topic, (SUBSCRIPTION,), "topic")
        if not subs:
            yield Violation(topic.urn, f"alert topic {topic.name} has no subscription: set"
                                       " --subscribe or PROVISIONER_ALERT_SUBSCRIPTIONS")
        for sub in subs:
            if sub.inputs.get("protocol") == "http" or not str(
                    sub.inputs.get("endpoint", "")).strip():
                yield Violation(sub.urn, f"subscription {sub.name} delivers over plaintext HTTP"
                                         " or to no endpoint")


def _pattern(rule: Resource) -> Mapping[str, Any]:
    raw = rule.inputs.get("eventPattern")
    try:
        data = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return {}
    return data if isinstance(data, Mapping) else {}


def _routed(g: Graph, rule: Resource, topics: list[Resource]) -> bool:
    if str(rule.inputs.get("state", "ENABLED")) != "ENABLED":
        return False
    for target in g.referrers(rule, (EVENT_TARGET,), "rule"):
        if any(t in topics for t in g.referents(target.inputs.get("arn"), (TOPIC,))):
            return True
    return False


def _detail(pattern: Mapping[str, Any], key: str) -> list[str]:
    detail = pattern.get("detail")
    return [str(v) for v in as_list(detail.get(key))] if isinstance(detail, Mapping) else []


def check_backup_failures(g: Graph) -> Iterator[Violation]:
    topics = alert_topics(g)
    for detail_type, field in BACKUP_FAILURES:
        ok = [r for r in g.of_type(EVENT_RULE)
              if "aws.backup" in as_list(_pattern(r).get("source"))
              and detail_type in as_list(_pattern(r).get("detail-type"))
              and "FAILED" in _detail(_pattern(r), field) and _routed(g, r, topics)]
        if not ok:
            yield Violation(g.stack_urn, f"no enabled rule sends AWS Backup '{detail_type}'"
                                         f" with {field} FAILED to the alert topic")


def check_key_deletion(g: Graph) -> Iterator[Violation]:
    topics = alert_topics(g)
    for event in KEY_EVENTS:
        ok = [r for r in g.of_type(EVENT_RULE)
              if "aws.kms" in as_list(_pattern(r).get("source"))
              and event in _detail(_pattern(r), "eventName") and _routed(g, r, topics)]
        if not ok:
            yield Violation(g.stack_urn, f"no enabled rule sends KMS {event} calls to the alert"
                                         " topic")


def _allows(doc: Any, action: str) -> set[str]:
    """Services an Allow statement of `doc` lets perform `action` (wildcards honoured)."""
    try:
        data = json.loads(doc) if isinstance(doc, str) else doc
    except ValueError:
        return set()
    found: set[str] = set()
    for st in as_list(data.get("Statement") if isinstance(data, Mapping) else None):
        if not isinstance(st, Mapping) or st.get("Effect") != "Allow":
            continue
        principal = st.get("Principal")
        actions = [str(a) for a in as_list(st.get("Action"))]
        if isinstance(principal, Mapping) and any(fnmatch.fnmatchcase(action, a)
                                                  for a in actions):
            found.update(str(s) for s in as_list(principal.get("Service")))
    return found


def check_publishers(g: Graph) -> Iterator[Violation]:
    for topic in alert_topics(g):
        policies = g.referrers(topic, (TOPIC_POLICY,), "arn")
        allowed = set().union(*(_allows(p.inputs.get("policy"), "sns:Publish")
                                for p in policies)) if policies else set()
        missing = [s for s in PUBLISHERS if s not in allowed]
        if missing:
            yield Violation(topic.urn, f"alert topic {topic.name}: {', '.join(missing)} may not"
                                       " publish (topic policy), so its alerts are dropped")
        for key in g.referents(topic.inputs.get("kmsMasterKeyId"), (KEY,)):
            can = _allows(key.inputs.get("policy"), "kms:GenerateDataKey")
            lacking = [s for s in PUBLISHERS if s not in can]
            if lacking:
                yield Violation(key.urn, f"key {key.name}: {', '.join(lacking)} may not use it,"
                                         " so they cannot publish to the encrypted topic")


def _selects_write_management_events(trail: Resource) -> bool:
    """Whether the trail's selectors include write management events (no selector at all is
    CloudTrail's default: every management event)."""
    basic, advanced = trail.items("eventSelectors"), trail.items("advancedEventSelectors")
    if not basic and not advanced:
        return True
    for sel in basic:
        if truthy(sel.get("includeManagementEvents", True)) and str(
                sel.get("readWriteType", "All")) in ("All", "WriteOnly"):
            return True
    for sel in advanced:
        fields = {str(f.get("field")): f for f in as_list(sel.get("fieldSelectors"))
                  if isinstance(f, Mapping)}
        category = fields.get("eventCategory", {})
        read_only = [str(v).lower() for v in as_list(fields.get("readOnly", {}).get("equals"))]
        if "Management" in [str(v) for v in as_list(category.get("equals"))] \
                and read_only != ["true"]:
            return True
    return False


def _trail_buckets(g: Graph, trail: Resource) -> list[Resource]:
    return g.referents(trail.inputs.get("s3BucketName"), BUCKETS)


def check_trail_records(g: Graph) -> Iterator[Violation]:
    recording = []
    for trail in g.of_type(TRAIL):
        where = str(trail.inputs.get("region") or g.region)
        if not truthy(trail.inputs.get("enableLogging", True)):
            yield Violation(trail.urn, f"trail {trail.name} has logging off (enableLogging)")
        elif not _selects_write_management_events(trail):
            yield Violation(trail.urn, f"trail {trail.name} records no write management events"
                                       " (its event selectors leave them out)")
        elif where != g.region and not truthy(trail.inputs.get("isMultiRegionTrail")):
            yield Violation(trail.urn, f"trail {trail.name} records {where}, not {g.region}")
        else:
            recording.append(trail)
        buckets = _trail_buckets(g, trail)
        if not buckets:
            yield Violation(trail.urn, f"trail {trail.name} delivers to a bucket not defined in"
                                       " this plan")
        for bucket in buckets:
            policies = g.referrers(bucket, (BUCKET_POLICY,), "bucket")
            if not any(CLOUDTRAIL in _allows(p.inputs.get("policy"), "s3:PutObject")
                       for p in policies):
                yield Violation(bucket.urn, f"bucket {bucket.name}: CloudTrail may not write to"
                                            " it (bucket policy), so the trail delivers nothing")
    if not recording:
        yield Violation(g.stack_urn, "no CloudTrail trail records this region's management"
                                     " events: EventBridge receives no 'AWS API Call via"
                                     " CloudTrail' event, so key disabling and deletion alert"
                                     " nobody")


def _keys_behind(g: Graph, value: Any) -> list[Resource]:
    """The keys `value` names, directly or through an alias of the plan."""
    found = []
    for res in g.referents(value, (KEY, ALIAS)):
        found += _keys_behind(g, res.inputs.get("targetKeyId")) if res.type == ALIAS else [res]
    return found


def check_trail_integrity(g: Graph) -> Iterator[Violation]:
    for trail in g.of_type(TRAIL):
        if not truthy(trail.inputs.get("enableLogFileValidation")):
            yield Violation(trail.urn, f"trail {trail.name} has no log file validation: its"
                                       " files can be altered unnoticed")
        key = trail.inputs.get("kmsKeyId")
        verdict = key_verdict(g, key)
        v = verdict.violation(trail.urn, f"trail {trail.name} is not encrypted under the"
                                         " platform's own key")
        if v:
            yield v
            continue
        for res in _keys_behind(g, key):
            if CLOUDTRAIL not in _allows(res.inputs.get("policy"), "kms:GenerateDataKey"):
                yield Violation(res.urn, f"key {res.name}: CloudTrail may not use it, so trail"
                                         f" {trail.name} delivers nothing")


def check_buckets_private(g: Graph) -> Iterator[Violation]:
    yield from check_bucket_public_access(g)
    yield from check_bucket_tls(g)


def _retention_problem(g: Graph, bucket: Resource) -> str | None:
    """Why `bucket` does not keep objects a year, or None."""
    kept = None
    for config in g.referrers(bucket, (LIFECYCLE,), "bucket"):
        for rule in config.items("rules"):
            if str(rule.get("status")) != "Enabled":
                continue
            days = as_number((rule.get("expiration") or {}).get("days")) \
                if isinstance(rule.get("expiration"), Mapping) else None
            if days is not None:
                kept = days if kept is None else min(kept, days)
    if kept is None:
        return f"bucket {bucket.name} has no enabled expiry rule: set one of" \
               f" {MIN_TRAIL_RETENTION_DAYS} days or more"
    if kept < MIN_TRAIL_RETENTION_DAYS:
        return f"bucket {bucket.name} expires objects after {kept:g} days, under" \
               f" {MIN_TRAIL_RETENTION_DAYS}"
    return None


def check_trail_bucket(g: Graph) -> Iterator[Violation]:
    for trail in g.of_type(TRAIL):
        for bucket in _trail_buckets(g, trail):
            if truthy(bucket.inputs.get("forceDestroy")):
                yield Violation(bucket.urn, f"bucket {bucket.name} is force-destroyed with its"
                                            " stack: the trail's records go with it")
            if not any(str(v.get("versioningConfiguration", "status")) == "Enabled"
                       for v in g.referrers(bucket, (VERSIONING,), "bucket")):
                yield Violation(bucket.urn, f"bucket {bucket.name} is not versioned: an"
                                            " overwritten or deleted record is gone")
            sse = [r for c in g.referrers(bucket, (ENCRYPTION,), "bucket")
                   for r in c.items("rules")]
            keys = [(r.get("applyServerSideEncryptionByDefault") or {}) for r in sse]
            if not any(k.get("sseAlgorithm") == "aws:kms"
                       and key_verdict(g, k.get("kmsMasterKeyId")).ok for k in keys):
                yield Violation(bucket.urn, f"bucket {bucket.name} is not encrypted by default"
                                            " under a key of the platform")
            targets = [t for lg in g.referrers(bucket, (ACCESS_LOGGING,), "bucket")
                       for t in g.referents(lg.inputs.get("targetBucket"), BUCKETS)
                       if t is not bucket]
            if not targets:
                yield Violation(bucket.urn, f"bucket {bucket.name} has no server access logging"
                                            " to another bucket of the plan")
            for kept in (bucket, *targets):
                problem = _retention_problem(g, kept)
                if problem:
                    yield Violation(kept.urn, problem)


def _names(cert: Resource) -> set[str]:
    return {str(cert.inputs.get("domainName", "")),
            *map(str, as_list(cert.inputs.get("subjectAlternativeNames")))}


def check_wildcard_certificate(g: Graph) -> Iterator[Violation]:
    domain = str(g.tenant.get("domain") or "")
    if not domain:
        yield Violation(g.stack_urn, "the region plan names no tenants' domain: the pools'"
                                     " wildcard certificate cannot be checked")
        return
    wanted = {f"*.{domain}", f"*.mail.{domain}"}
    certs = [c for c in g.of_type(CERTIFICATE) if wanted <= _names(c)]
    if not certs:
        yield Violation(g.stack_urn, f"no certificate covers {' and '.join(sorted(wanted))}:"
                                     " pooled instances would serve no valid certificate")
    for cert in certs:
        if cert.inputs.get("validationMethod") != "DNS":
            yield Violation(cert.urn, f"certificate {cert.name} is not validated by DNS: its"
                                      " renewal would wait on a person")
        validations = g.referrers(cert, (CERTIFICATE_VALIDATION,), "certificateArn")
        if not validations:
            yield Violation(cert.urn, f"certificate {cert.name} has no validation: nothing waits"
                                      " for it to be issued")
        for validation in validations:
            fqdns = {str(f).rstrip(".") for f in as_list(
                validation.inputs.get("validationRecordFqdns"))}
            missing = sorted(n for n in wanted if not any(f.endswith(n) for f in fqdns))
            if missing:
                yield Violation(validation.urn, f"validation {validation.name} has no record for"
                                                f" {', '.join(missing)}")


RULES = (
    Rule("REG-001", "The region's alert topic exists, encrypted under a key of the platform",
         "monitoring", Severity.mandatory, check_topic),
    Rule("REG-002", "Someone is subscribed to the alert topic, never over plaintext HTTP",
         "monitoring", Severity.mandatory, check_subscriptions),
    Rule("REG-003", "AWS Backup backup, copy and restore job failures reach the alert topic",
         "monitoring", Severity.mandatory, check_backup_failures),
    Rule("REG-004", "KMS key disabling and deletion calls reach the alert topic", "monitoring",
         Severity.mandatory, check_key_deletion),
    Rule("REG-005", "EventBridge and CloudWatch may publish to the topic and use its key",
         "monitoring", Severity.mandatory, check_publishers),
    Rule("REG-006", "A CloudTrail trail records the region's management events (what the key"
         " alert rule reads) into a bucket it may write to", "monitoring", Severity.mandatory,
         check_trail_records),
    Rule("REG-007", "The trail's files are validated (signed digests) and encrypted under a"
         " rotated key of the platform that CloudTrail may use", "monitoring",
         Severity.mandatory, check_trail_integrity),
    Rule("REG-008", "Every bucket of the regional stack is private and TLS-only", "monitoring",
         Severity.mandatory, check_buckets_private),
    Rule("REG-009", "The trail's bucket is versioned, encrypted, access-logged and kept a year",
         "monitoring", Severity.mandatory, check_trail_bucket),
    Rule("REG-010", "The warm pools' wildcard certificate covers every name a bound instance"
         " serves and is validated by DNS", "in-transit", Severity.mandatory,
         check_wildcard_certificate),
)
REGION_RULES: tuple[Rule, ...] = (*RULES, *grants.RULES)
