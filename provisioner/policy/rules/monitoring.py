"""Logging, monitoring and patching: logs that arrive, alarms that reach someone, patches that
get installed.

- MON-001..003: the alarms the published monitoring promise needs, each with an enabled action
  to the region's alert topic (a suspended tenant's app alarms excepted), the server's system
  status alarm recovering it onto healthy hardware.
- MON-004, MON-005, MON-010: the database's enhanced monitoring, the logs its exported groups
  are fed with (general, slow query, audit plugin), automatic minor version upgrades.
- MON-006..008: the app server's CloudWatch agent writes every log kind into the tenant's own
  groups; every log group has a writer that may write to it; security logs are kept a year.
- MON-009: the patch baseline, its group, the maintenance window and the scan association.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from provisioner.plans import SECURITY_LOG_RETENTION_DAYS
from provisioner.policy.graph import (
    Graph,
    Resource,
    Undetermined,
    Unknown,
    as_list,
    as_number,
    truthy,
)
from provisioner.policy.model import Rule, Severity, Violation
from provisioner.policy.rules.grants import own_accounts
from provisioner.policy.rules.tenant_facts import instance_id
from provisioner.promises import (
    AGENT_LOG_KINDS,
    ALERT_TOPIC_NAME,
    DB_AUDIT_EVENTS,
    DB_AUDIT_PLUGIN,
    MAX_LONG_QUERY_SECONDS,
    MAX_PATCH_APPROVAL_DAYS,
    SECURITY_DB_LOGS,
    SECURITY_TENANT_LOGS,
    ec2_recover_action,
    tenant_log_group,
)

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
INSTANCE = "aws:ec2/instance:Instance"
INSTANCE_STATE = "aws:ec2transitgateway/instanceState:InstanceState"
LB = "aws:lb/loadBalancer:LoadBalancer"
DB = "aws:rds/instance:Instance"
PARAMS = "aws:rds/parameterGroup:ParameterGroup"
OPTIONS = "aws:rds/optionGroup:OptionGroup"
CERTIFICATE = "aws:acm/certificate:Certificate"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
FUNCTION = "aws:lambda/function:Function"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
WAF_LOGGING = "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
PROFILE = "aws:iam/instanceProfile:InstanceProfile"
BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
BASELINE = "aws:ssm/patchBaseline:PatchBaseline"
PATCH_GROUP = "aws:ssm/patchGroup:PatchGroup"
WINDOW = "aws:ssm/maintenanceWindow:MaintenanceWindow"
WINDOW_TARGET = "aws:ssm/maintenanceWindowTarget:MaintenanceWindowTarget"
WINDOW_TASK = "aws:ssm/maintenanceWindowTask:MaintenanceWindowTask"
ASSOCIATION = "aws:ssm/association:Association"
RUN_PATCH_BASELINE = "AWS-RunPatchBaseline"
PATCH_GROUP_TAGS = ("PatchGroup", "Patch Group")
LOG_WRITE = "logs:PutLogEvents"
APP_NAMESPACES = ("AWS/ApplicationELB", "AWS/EC2")  # alarms a suspension may switch off
ENHANCED_MONITORING_INTERVALS = (1.0, 5.0, 10.0, 15.0, 30.0, 60.0)
DB_EXPORTS_NEEDED = ("error", "general", "slowquery", "audit")

# What must be watched, by the resource type that must be present for it to apply.
REQUIRED_ALARMS: dict[str, tuple[tuple[str, str, str], ...]] = {
    LB: (("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "load balancer 5xx rate"),
         ("AWS/ApplicationELB", "UnHealthyHostCount", "unhealthy targets")),
    INSTANCE: (("AWS/EC2", "StatusCheckFailed_System", "server system status"),
               ("AWS/EC2", "StatusCheckFailed_Instance", "server instance status")),
    DB: (("AWS/RDS", "CPUUtilization", "database CPU"),
         ("AWS/RDS", "FreeStorageSpace", "database free storage"),
         ("AWS/RDS", "FreeableMemory", "database free memory"),
         ("AWS/RDS", "DatabaseConnections", "database connections")),
    CERTIFICATE: (("AWS/CertificateManager", "DaysToExpiry", "certificate days to expiry"),),
}  # fmt: skip
_AGENT_HEREDOC = re.compile(r"amazon-cloudwatch-agent\.json <<'?(\w+)'?\n(.*?)\n\1\n", re.S)


def _metrics(alarm: Resource) -> set[tuple[str, str]]:
    """(namespace, metric) pairs an alarm reads, directly or through metric math."""
    found = {(str(alarm.inputs.get("namespace")), str(alarm.inputs.get("metricName")))}
    for query in alarm.items("metricQueries"):
        metric = query.get("metric")
        if isinstance(metric, Mapping):
            found.add((str(metric.get("namespace")), str(metric.get("metricName"))))
    return found


def check_required_alarms(g: Graph) -> Iterator[Violation]:
    watched = set().union(*(_metrics(a) for a in g.of_type(ALARM))) if g.of_type(ALARM) else set()
    for type_, needed in REQUIRED_ALARMS.items():
        if not g.of_type(type_):
            continue
        for namespace, metric, what in needed:
            if (namespace, metric) not in watched:
                yield Violation(g.stack_urn, f"no alarm on {what} ({namespace} {metric})")


def _suspended(g: Graph) -> bool:
    states = [str(s.inputs.get("state")) for s in g.of_type(INSTANCE_STATE)]
    return bool(states) and all(s == "stopped" for s in states)


def _alert_topic(value: Any, region: str, accounts: set[str]) -> bool:
    if not isinstance(value, str):
        return False
    parts = value.split(":")
    return (len(parts) == 6 and parts[:3] == ["arn", "aws", "sns"] and parts[3] == region
            and parts[4] in accounts and parts[5] == ALERT_TOPIC_NAME)


def check_alarm_actions(g: Graph) -> Iterator[Violation]:
    accounts = own_accounts(g)
    suspended = _suspended(g)
    for alarm in g.of_type(ALARM):
        actions = as_list(alarm.inputs.get("alarmActions"))
        if any(isinstance(a, Unknown) for a in actions):
            yield Violation(alarm.urn, f"alarm {alarm.name}: actions not known until applied",
                            undetermined=True)
        elif not any(_alert_topic(a, alarm.region, accounts) for a in actions):
            yield Violation(alarm.urn, f"alarm {alarm.name} notifies nobody: add the region's"
                                       f" alert topic (sns {ALERT_TOPIC_NAME} in {alarm.region})"
                                       " to alarmActions")
        enabled = alarm.inputs.get("actionsEnabled")
        if enabled is None or truthy(enabled):
            continue
        namespaces = {ns for ns, _ in _metrics(alarm)}
        if suspended and namespaces <= set(APP_NAMESPACES) | {"None"}:
            continue  # the suspended tenant's stopped server: its app alarms are off on purpose
        yield Violation(alarm.urn, f"alarm {alarm.name} has its actions disabled")


def check_auto_recovery(g: Graph) -> Iterator[Violation]:
    for instance in g.of_type(INSTANCE):
        recover = ec2_recover_action(instance.region)
        ok = [a for a in g.of_type(ALARM)
              if ("AWS/EC2", "StatusCheckFailed_System") in _metrics(a)
              and recover in as_list(a.inputs.get("alarmActions"))
              and instance in g.referents(a.get("dimensions", "InstanceId"), (INSTANCE,))]
        if not ok:
            yield Violation(instance.urn, f"app server {instance.name} has no system status"
                                          f" alarm with the EC2 recover action ({recover})")


def _trusts(role: Resource, service: str) -> bool:
    doc = role.inputs.get("assumeRolePolicy")
    try:
        data = json.loads(doc) if isinstance(doc, str) else doc
    except ValueError:
        return False
    for st in as_list((data or {}).get("Statement") if isinstance(data, Mapping) else None):
        principal = st.get("Principal") if isinstance(st, Mapping) else None
        if isinstance(principal, Mapping) and service in as_list(principal.get("Service")):
            return True
    return False


def check_enhanced_monitoring(g: Graph) -> Iterator[Violation]:
    for db in g.of_type(DB):
        interval = as_number(db.inputs.get("monitoringInterval"))
        if interval not in ENHANCED_MONITORING_INTERVALS:
            yield Violation(db.urn, f"database {db.name} has no enhanced monitoring: set"
                                    " monitoringInterval to 1-60 seconds (RDS.6)")
            continue
        roles = g.referents(db.inputs.get("monitoringRoleArn"), (ROLE,))
        if not roles or not all(_trusts(r, "monitoring.rds.amazonaws.com") for r in roles):
            yield Violation(db.urn, f"database {db.name}: monitoringRoleArn is not a role of this"
                                    " plan trusting monitoring.rds.amazonaws.com")


def _parameters(group: Resource) -> dict[str, str]:
    return {str(p.get("name")): str(p.get("value")) for p in group.items("parameters")}


def check_database_logs_produced(g: Graph) -> Iterator[Violation]:
    for db in g.of_type(DB):
        exports = {str(e) for e in as_list(db.inputs.get("enabledCloudwatchLogsExports"))}
        missing = [e for e in DB_EXPORTS_NEEDED if e not in exports]
        if missing:
            yield Violation(db.urn, f"database {db.name} does not export {', '.join(missing)}"
                                    " (RDS.9)")
        groups: list[Resource | None] = list(
            g.referents(db.inputs.get("parameterGroupName"), (PARAMS,))) or [None]
        for group in groups:
            params = _parameters(group) if group else {}
            problems = [f"{p}={params.get(p)!r}" for p in ("general_log", "slow_query_log")
                        if params.get(p) != "1"]
            seconds = as_number(params.get("long_query_time"))
            if seconds is None or not 0 < seconds <= MAX_LONG_QUERY_SECONDS:
                problems.append(f"long_query_time={params.get('long_query_time')!r}")
            if params.get("log_output", "FILE") != "FILE":
                problems.append(f"log_output={params['log_output']!r} (only FILE is exported)")
            if problems:
                where = group.urn if group else db.urn
                yield Violation(where, f"database {db.name} writes no general/slow query log to"
                                       f" export: {', '.join(problems)}")
        if not _audit_plugin_ok(g, db):
            yield Violation(db.urn, f"database {db.name} has no audit log: its option group needs"
                                    f" {DB_AUDIT_PLUGIN} with SERVER_AUDIT_EVENTS"
                                    f" {','.join(DB_AUDIT_EVENTS)}")


def _audit_plugin_ok(g: Graph, db: Resource) -> bool:
    groups = g.referents(db.inputs.get("optionGroupName"), (OPTIONS,))
    for group in groups:
        for option in group.items("options"):
            if option.get("optionName") != DB_AUDIT_PLUGIN:
                continue
            settings = {str(s.get("name")): str(s.get("value"))
                        for s in as_list(option.get("optionSettings")) if isinstance(s, Mapping)}
            events = {e.strip() for e in settings.get("SERVER_AUDIT_EVENTS", "").split(",")}
            if set(DB_AUDIT_EVENTS) <= events:
                return True
    return False


def agent_config(instance: Resource) -> dict[str, Any] | None:
    """The CloudWatch agent configuration the user data writes, or None."""
    text = instance.inputs.get("userData")
    if isinstance(text, Unknown):
        raise Undetermined(f"{instance.name}.userData is not known yet")
    match = _AGENT_HEREDOC.search(text) if isinstance(text, str) else None
    if not match:
        return None
    try:
        data = json.loads(match.group(2))
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def agent_groups(config: Mapping[str, Any]) -> set[str]:
    files = ((config.get("logs") or {}).get("logs_collected") or {}).get("files") or {}
    return {str(e.get("log_group_name")) for e in as_list(files.get("collect_list"))
            if isinstance(e, Mapping)}


def check_agent_config(g: Graph) -> Iterator[Violation]:
    slug = instance_id(g)  # the names derive from it, not from the customer's slug
    groups = {str(lg.inputs.get("name")) for lg in g.of_type(LOG_GROUP)}
    for instance in g.of_type(INSTANCE):
        config = agent_config(instance)
        if config is None:
            yield Violation(instance.urn, f"app server {instance.name}: the user data configures"
                                          " no CloudWatch agent, so its logs never leave it")
            continue
        written = agent_groups(config)
        for kind in AGENT_LOG_KINDS:
            if tenant_log_group(slug, kind) not in written:
                yield Violation(instance.urn, f"app server {instance.name}: the agent sends"
                                              f" nothing to {tenant_log_group(slug, kind)}")
        for name in sorted(written - groups):
            yield Violation(instance.urn, f"app server {instance.name}: the agent writes to"
                                          f" {name}, not a log group of this plan (the agent"
                                          " would create it unencrypted, kept forever)")


def _instance_roles(g: Graph, instance: Resource) -> list[Resource]:
    roles: list[Resource] = []
    for profile in g.referents(instance.inputs.get("iamInstanceProfile"), (PROFILE,)):
        roles.extend(g.referents(profile.inputs.get("role"), (ROLE,)))
    return roles


def _grants_write(g: Graph, role: Resource, group_arn: str) -> bool:
    for policy in g.referrers(role, (ROLE_POLICY,), "role"):
        doc = policy.inputs.get("policy")
        try:
            data = json.loads(doc) if isinstance(doc, str) else doc
        except ValueError:
            continue
        for st in as_list(data.get("Statement") if isinstance(data, Mapping) else None):
            if not isinstance(st, Mapping) or st.get("Effect") != "Allow":
                continue
            actions = [str(a) for a in as_list(st.get("Action"))]
            if not any(fnmatch.fnmatchcase(LOG_WRITE, a) for a in actions):
                continue
            if any(fnmatch.fnmatchcase(group_arn, str(r)) for r in as_list(st.get("Resource"))):
                return True
    return False


def _group_arn(group: Resource, account: str) -> str:
    return f"arn:aws:logs:{group.region}:{account}:log-group:{group.inputs.get('name')}"


def check_log_writers(g: Graph) -> Iterator[Violation]:
    """A log group nobody can write to stays empty: each needs a writer with the right."""
    accounts = sorted(own_accounts(g)) or ["123456789012"]
    written: set[str] = set()
    for flow in g.of_type(FLOW_LOG):
        written.update(r.urn for r in g.referents(flow.inputs.get("logDestination"), (LOG_GROUP,)))
    for waf in g.of_type(WAF_LOGGING):
        for dest in as_list(waf.inputs.get("logDestinationConfigs")):
            written.update(r.urn for r in g.referents(dest, (LOG_GROUP,)))
    for db in g.of_type(DB):
        ident = db.inputs.get("identifier")
        for log in as_list(db.inputs.get("enabledCloudwatchLogsExports")):
            written.update(lg.urn for lg in g.of_type(LOG_GROUP)
                           if str(lg.inputs.get("name")) == f"/aws/rds/instance/{ident}/{log}")
    for instance in g.of_type(INSTANCE):
        config = agent_config(instance)
        names = agent_groups(config) if config else set()
        roles = _instance_roles(g, instance)
        for lg in g.of_type(LOG_GROUP):
            if str(lg.inputs.get("name")) not in names:
                continue
            if any(_grants_write(g, role, _group_arn(lg, a)) for role in roles for a in accounts):
                written.add(lg.urn)
            else:
                yield Violation(lg.urn, f"log group {lg.inputs.get('name')}: the app server's"
                                        f" agent writes to it but its role may not"
                                        f" ({LOG_WRITE})")
                written.add(lg.urn)  # reported once
    for function in g.of_type(FUNCTION):  # Lambda writes as the function's role
        roles = g.referents(function.inputs.get("role"), (ROLE,))
        for lg in g.of_type(LOG_GROUP):
            if str(lg.inputs.get("name")) != str(function.get("loggingConfig", "logGroup")):
                continue
            written.add(lg.urn)
            if not any(_grants_write(g, role, _group_arn(lg, a)) for role in roles
                       for a in accounts):
                yield Violation(lg.urn, f"log group {lg.inputs.get('name')}: function"
                                        f" {function.name} logs to it but its role may not"
                                        f" ({LOG_WRITE})")
    for lg in g.of_type(LOG_GROUP):
        if lg.urn not in written:
            yield Violation(lg.urn, f"log group {lg.inputs.get('name')} has no writer in this"
                                    " plan: it stays empty")


def security_log_groups(g: Graph) -> list[Resource]:
    """Flow-log and WAF destinations, the database audit log, operators' sessions."""
    found: dict[str, Resource] = {}
    for flow in g.of_type(FLOW_LOG):
        for lg in g.referents(flow.inputs.get("logDestination"), (LOG_GROUP,)):
            found[lg.urn] = lg
    for lg in g.of_type(LOG_GROUP):
        name = str(lg.inputs.get("name"))
        security = (*(f"/{k}" for k in SECURITY_TENANT_LOGS), *(f"/{k}" for k in SECURITY_DB_LOGS))
        if name.endswith(security) or name.startswith("aws-waf-logs-"):
            found[lg.urn] = lg
    return sorted(found.values(), key=lambda r: r.urn)


def check_security_log_retention(g: Graph) -> Iterator[Violation]:
    for lg in security_log_groups(g):
        days = as_number(lg.inputs.get("retentionInDays"))
        if days is None or days < SECURITY_LOG_RETENTION_DAYS:
            yield Violation(lg.urn, f"security log group {lg.inputs.get('name')} is kept"
                                    f" {days} days, under {SECURITY_LOG_RETENTION_DAYS}"
                                    " (CKV_AWS_338)")
        if truthy(lg.inputs.get("skipDestroy")):
            yield Violation(lg.urn, f"log group {lg.inputs.get('name')} survives the tenant's"
                                    " deletion (skipDestroy): its data must go with the tenant")
    for lb in g.of_type(LB):
        for bucket in g.referents(lb.get("accessLogs", "bucket"), BUCKETS):
            for conf in g.referrers(bucket, (LIFECYCLE,), "bucket"):
                for rule in conf.items("rules"):
                    expiration = rule.get("expiration")
                    days = as_number(expiration.get("days")) \
                        if isinstance(expiration, Mapping) else None
                    if rule.get("status") == "Enabled" and days is not None \
                            and days < SECURITY_LOG_RETENTION_DAYS:
                        yield Violation(conf.urn, f"access logs of {lb.name} expire after"
                                                  f" {days:g} days, under"
                                                  f" {SECURITY_LOG_RETENTION_DAYS}")


def _targets_instance(g: Graph, targets: Any, instance: Resource) -> bool:
    for target in as_list(targets):
        if isinstance(target, Mapping) and target.get("key") == "InstanceIds" and any(
                instance in g.referents(v, (INSTANCE,)) for v in as_list(target.get("values"))):
            return True
    return False


def _baseline_problem(baseline: Resource) -> str | None:
    critical = security = False
    for rule in baseline.items("approvalRules"):
        filters = {str(f.get("key")): [str(v) for v in as_list(f.get("values"))]
                   for f in as_list(rule.get("patchFilters")) if isinstance(f, Mapping)}
        days = as_number(rule.get("approveAfterDays"))
        if "Security" not in filters.get("CLASSIFICATION", []) or days is None:
            continue
        severities = set(filters.get("SEVERITY", ["Critical", "Important"]))
        if "Critical" in severities and days == 0:
            critical = True
        if {"Important"} <= severities and days <= MAX_PATCH_APPROVAL_DAYS:
            security = True
    if not critical:
        return "critical security updates are not approved at once (approveAfterDays 0)"
    if not security:
        return (f"security updates are not approved within {MAX_PATCH_APPROVAL_DAYS} days")
    return None


def check_patching(g: Graph) -> Iterator[Violation]:
    for instance in g.of_type(INSTANCE):
        what = f"app server {instance.name}"
        tags = instance.tags()
        group = next((tags[t] for t in PATCH_GROUP_TAGS if t in tags), None)
        registered = [pg for pg in g.of_type(PATCH_GROUP) if pg.inputs.get("patchGroup") == group]
        baselines = [b for pg in registered
                     for b in g.referents(pg.inputs.get("baselineId"), (BASELINE,))]
        if group is None or not baselines:
            yield Violation(instance.urn, f"{what} has no patch baseline of this plan (tag"
                                          " PatchGroup and a PatchGroup registration)")
        for baseline in baselines:
            problem = _baseline_problem(baseline)
            if problem:
                yield Violation(baseline.urn, f"patch baseline {baseline.name}: {problem}")
        installs = []
        for task in g.of_type(WINDOW_TASK):
            if task.inputs.get("taskArn") != RUN_PATCH_BASELINE:
                continue
            params = task.get("taskInvocationParameters", "runCommandParameters", "parameters")
            operation = [v for p in as_list(params) if isinstance(p, Mapping)
                         and p.get("name") == "Operation" for v in as_list(p.get("values"))]
            if operation != ["Install"]:
                continue
            windows = [w for w in g.referents(task.inputs.get("windowId"), (WINDOW,))
                       if w.inputs.get("enabled") is not False]
            targets = [t for tg in as_list(task.inputs.get("targets")) if isinstance(tg, Mapping)
                       for v in as_list(tg.get("values"))
                       for t in g.referents(v, (WINDOW_TARGET,))]
            if windows and any(_targets_instance(g, t.inputs.get("targets"), instance)
                               for t in targets):
                installs.append(task)
        if not installs:
            yield Violation(instance.urn, f"{what} has no maintenance window installing patches"
                                          f" ({RUN_PATCH_BASELINE}, Operation=Install)")
        scans = [a for a in g.of_type(ASSOCIATION)
                 if a.inputs.get("name") == RUN_PATCH_BASELINE
                 and _targets_instance(g, a.inputs.get("targets"), instance)]
        if not scans:
            yield Violation(instance.urn, f"{what} has no {RUN_PATCH_BASELINE} association, so"
                                          " its patch compliance is never reported")


def check_minor_upgrades(g: Graph) -> Iterator[Violation]:
    for db in g.of_type(DB):
        if db.inputs.get("autoMinorVersionUpgrade") is False:
            yield Violation(db.urn, f"database {db.name} does not take minor versions"
                                    " automatically (RDS.13)")


RULES = (
    Rule("MON-001", "Alarms watch the load balancer, targets, app server, database and"
                    " certificate", "monitoring", Severity.mandatory, check_required_alarms),
    Rule("MON-002", "Every alarm notifies the region's alert topic, with its actions on",
         "monitoring", Severity.mandatory, check_alarm_actions,
         "A suspended tenant's app alarms are off while its server is stopped."),
    Rule("MON-003", "The app server's system status alarm recovers it (EC2 auto recovery)",
         "monitoring", Severity.mandatory, check_auto_recovery),
    Rule("MON-004", "The database has enhanced monitoring with its own role (RDS.6)",
         "monitoring", Severity.mandatory, check_enhanced_monitoring),
    Rule("MON-005", "The database writes the general, slow-query and audit logs it exports"
                    " (RDS.9)", "monitoring", Severity.mandatory, check_database_logs_produced),
    Rule("MON-006", "The app server's CloudWatch agent sends every log kind to the tenant's"
                    " groups", "monitoring", Severity.mandatory, check_agent_config),
    Rule("MON-007", "Every log group has a writer allowed to write to it", "monitoring",
         Severity.mandatory, check_log_writers),
    Rule("MON-008", "Security logs are kept at least a year and deleted with the tenant"
                    " (CKV_AWS_338)", "monitoring", Severity.mandatory,
         check_security_log_retention),
    Rule("MON-009", "The app server is patched: baseline, maintenance window, scan association",
         "patching", Severity.mandatory, check_patching),
    Rule("MON-010", "The database takes minor versions automatically (RDS.13)", "patching",
         Severity.mandatory, check_minor_upgrades),
)
