"""Rules for a location's platform stack (stacks/region): alerts that reach someone.

- REG-001: the alert topic exists under its agreed name (tenant alarms address it by name) and
  is encrypted with a rotated customer-managed key of the plan;
- REG-002: someone is subscribed, and never over plaintext HTTP;
- REG-003: AWS Backup backup-, copy- and restore-job failures reach the topic;
- REG-004: KMS DisableKey and ScheduleKeyDeletion calls reach the topic;
- REG-005: the topic's and the key's policies let EventBridge and CloudWatch publish (without
  that, every alert is dropped silently).
Plus ISO-002 (no grant to everyone or another account), shared with tenant plans.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterator, Mapping
from typing import Any

from provisioner.policy.graph import Graph, Resource, as_list
from provisioner.policy.model import Rule, Severity, Violation
from provisioner.policy.refs import key_verdict
from provisioner.policy.rules import grants
from provisioner.promises import ALERT_TOPIC_NAME

TOPIC = "aws:sns/topic:Topic"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
KEY = "aws:kms/key:Key"
PUBLISHERS = ("events.amazonaws.com", "cloudwatch.amazonaws.com")
BACKUP_FAILURES = (
    ("Backup Job State Change", "state"),
    ("Copy Job State Change", "state"),
    ("Restore Job State Change", "status"),
)
KEY_EVENTS = ("DisableKey", "ScheduleKeyDeletion")


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
)
REGION_RULES: tuple[Rule, ...] = (*RULES, *grants.RULES)
