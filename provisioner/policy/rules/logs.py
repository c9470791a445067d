"""Logging: load balancer access logs, VPC flow logs, database log exports, retention set."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from provisioner.policy.graph import Graph, as_number, truthy
from provisioner.policy.model import Rule, Severity, Violation

LOAD_BALANCERS = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
VPC = "aws:ec2/vpc:Vpc"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
DB_INSTANCE = "aws:rds/instance:Instance"
DB_CLUSTER = "aws:rds/cluster:Cluster"


def check_access_logs(g: Graph) -> Iterator[Violation]:
    for lb in g.of_type(*LOAD_BALANCERS):
        logs = lb.get("accessLogs")
        if not isinstance(logs, Mapping) or not truthy(logs.get("enabled")):
            yield Violation(lb.urn, f"load balancer {lb.name} has access logs off: set"
                                    " accessLogs.enabled=true")
            continue
        buckets = g.referents(logs.get("bucket"), BUCKETS)
        if not buckets:
            yield Violation(lb.urn, f"load balancer {lb.name} logs to {logs.get('bucket')!r},"
                                    " not a bucket of this plan")
        elif any(b.region != lb.region for b in buckets):
            yield Violation(lb.urn, f"load balancer {lb.name} logs to a bucket in another region"
                                    " (ELB delivers only to its own region)")


def check_flow_logs(g: Graph) -> Iterator[Violation]:
    for vpc in g.of_type(VPC):
        flows = g.referrers(vpc, (FLOW_LOG,), "vpcId")
        if not flows:
            yield Violation(vpc.urn, f"VPC {vpc.name} has no flow log")
            continue
        for flow in flows:
            if flow.inputs.get("trafficType") != "ALL":
                yield Violation(flow.urn, f"flow log {flow.name} records"
                                          f" {flow.inputs.get('trafficType')!r}, not ALL traffic")
            dest = flow.inputs.get("logDestination") or flow.inputs.get("logGroupName")
            if not g.referents(dest, (LOG_GROUP, *BUCKETS)):
                yield Violation(flow.urn, f"flow log {flow.name} writes to {dest!r}, not a log"
                                          " group or bucket of this plan (so not known to be"
                                          " encrypted and kept)")


def check_database_logs(g: Graph) -> Iterator[Violation]:
    """Exported, and into log groups of this plan: RDS otherwise creates
    `/aws/rds/instance/<id>/<log>` itself, unencrypted and kept forever."""
    groups = {str(lg.inputs.get("name")) for lg in g.of_type(LOG_GROUP)}
    for res in g.of_type(DB_INSTANCE, DB_CLUSTER):
        exports = res.inputs.get("enabledCloudwatchLogsExports")
        if not isinstance(exports, list) or not exports:
            yield Violation(res.urn, f"database {res.name} exports no logs: set"
                                     " enabledCloudwatchLogsExports")
            continue
        kind, field = ("instance", "identifier") if res.type == DB_INSTANCE \
            else ("cluster", "clusterIdentifier")
        ident = res.inputs.get(field)
        if not isinstance(ident, str) or not ident:
            yield Violation(res.urn, f"database {res.name} has no fixed {field}, so its log"
                                     " groups cannot be created (encrypted) in advance")
            continue
        missing = [str(e) for e in exports if f"/aws/rds/{kind}/{ident}/{e}" not in groups]
        if missing:
            yield Violation(res.urn, f"database {res.name} exports {', '.join(missing)} into"
                                     " log groups RDS would create unencrypted: add"
                                     f" /aws/rds/{kind}/{ident}/<log> log groups")


def check_retention(g: Graph) -> Iterator[Violation]:
    for res in g.of_type(LOG_GROUP):
        days = as_number(res.inputs.get("retentionInDays"))
        if days is None or days <= 0:
            yield Violation(res.urn, f"log group {res.name} has no retention: set retentionInDays")


def _covers(rule: Mapping[str, Any], prefix: str) -> bool:
    """True when a lifecycle rule's filter applies to objects under `prefix/`."""
    wanted = rule.get("filter")
    rule_prefix = wanted.get("prefix") if isinstance(wanted, Mapping) else rule.get("prefix")
    if not rule_prefix:
        return True  # the whole bucket
    return bool(prefix) and f"{prefix}/".startswith(str(rule_prefix))


def check_access_log_expiry(g: Graph) -> Iterator[Violation]:
    for lb in g.of_type(*LOAD_BALANCERS):
        prefix = str(lb.get("accessLogs", "prefix") or "")
        for bucket in g.referents(lb.get("accessLogs", "bucket"), BUCKETS):
            expiring = [
                rule for conf in g.referrers(bucket, (LIFECYCLE,), "bucket")
                for rule in conf.items("rules")
                if rule.get("status") == "Enabled" and isinstance(rule.get("expiration"), Mapping)
                and _covers(rule, prefix)
            ]
            if not expiring:
                yield Violation(bucket.urn, f"access-log bucket {bucket.name} keeps the logs of"
                                            f" {lb.name} (prefix {prefix or '/'}) forever: add a"
                                            " lifecycle rule with an expiration")


RULES = (
    Rule("LOG-001", "Load balancers write access logs to a bucket of the tenant in their region",
         "logging", Severity.mandatory, check_access_logs),
    Rule("LOG-002", "Every VPC has a flow log of all traffic into the tenant's log group",
         "logging", Severity.mandatory, check_flow_logs),
    Rule("LOG-003", "The database exports its logs into the tenant's own (encrypted) log groups",
         "logging", Severity.mandatory, check_database_logs),
    Rule("LOG-004", "Every log group has a retention period", "logging", Severity.mandatory,
         check_retention),
    Rule("LOG-005", "Access-log buckets expire old logs", "logging", Severity.advisory,
         check_access_log_expiry, "Keeps the retention promise for logs kept in S3."),
)
