"""Logging, monitoring and patching on the live account: the MON-* promises, checked on AWS.

- `monitoring.alarms`: every tenant alarm (`t-<slug>-<what>`) exists, has its actions on and
  notifies the region's alert topic; the server's system status alarm also recovers it. While
  the tenant's app server is stopped (suspended), its app alarms may be off.
- `logs.agent-groups`, `logs.security-retention`: the groups the CloudWatch agent writes exist;
  security logs (flow logs, SSM sessions, database audit) are kept at least a year.
- `rds.enhanced-monitoring`, `rds.logs-produced`: the database's OS metrics, its
  general/slow-query/audit logs actually written (minor upgrades: `rds.auto-minor-upgrade`).
- `ssm.patch-window`, `ssm.patch-compliance`: the maintenance window exists and is enabled; the
  SSM compliance summary of each app server says its patches are compliant.
- `backup.last-job`: the newest AWS Backup job of each protected resource (database, app server,
  data volume) completed within the last 26 hours.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from provisioner.audit.checks_storage import parameter_value
from provisioner.audit.context import Context
from provisioner.plans import SECURITY_LOG_RETENTION_DAYS
from provisioner.promises import (
    AGENT_LOG_KINDS,
    APP_ALARMS,
    BACKUP_JOB_MAX_AGE_HOURS,
    DB_AUDIT_EVENTS,
    DB_AUDIT_PLUGIN,
    SECURITY_DB_LOGS,
    SECURITY_TENANT_LOGS,
    SYSTEM_STATUS_ALARM,
    TENANT_ALARMS,
    alert_topic_arn,
    ec2_recover_action,
    tenant_log_group,
)

# error, general and slowquery exports are rds.log-exports' (checks_storage); this adds audit.
DB_EXPORTS_NEEDED = ("audit",)


def _stopped(ctx: Context) -> bool:
    """True when every app server of the tenant is stopped (the tenant is suspended)."""
    ids = [r.resource_id for r in ctx.of_kind("ec2:instance")]
    if not ids:
        return False
    ec2: Any = ctx.client("ec2")
    states = [i["State"]["Name"] for page in ec2.describe_instances(InstanceIds=ids)["Reservations"]
              for i in page["Instances"]]
    return bool(states) and all(s in ("stopped", "stopping") for s in states)


def check_alarms(ctx: Context) -> None:
    target, report = ctx.target, ctx.report
    prefix = f"t-{target.names}-"
    cloudwatch: Any = ctx.client("cloudwatch")
    alarms: dict[str, dict[str, Any]] = {}
    for page in cloudwatch.get_paginator("describe_alarms").paginate(AlarmNamePrefix=prefix):
        alarms.update({a["AlarmName"]: a for a in page["MetricAlarms"]})
    topic = alert_topic_arn(target.region, report.account)
    suspended = _stopped(ctx)
    rule = "monitoring.alarms"
    for what in TENANT_ALARMS:
        name = f"{prefix}{what}"
        alarm = alarms.get(name)
        arn = (alarm or {}).get("AlarmArn") or \
            f"arn:aws:cloudwatch:{target.region}:{report.account}:alarm:{name}"
        problems = []
        if alarm is None:
            problems.append("missing")
        else:
            actions = alarm.get("AlarmActions", [])
            if topic not in actions:
                problems.append(f"does not notify the alert topic {topic}")
            if not alarm.get("ActionsEnabled") and not (suspended and what in APP_ALARMS):
                problems.append("has its actions disabled")
            if what == SYSTEM_STATUS_ALARM and ec2_recover_action(target.region) not in actions:
                problems.append("does not recover the server (EC2 recover action)")
        if problems:
            report.fail("monitoring", rule, arn, target.region,
                        f"alarm {name} {'; '.join(problems)}")
        else:
            report.check(rule, arn)


def check_log_groups(ctx: Context) -> None:
    target, report = ctx.target, ctx.report
    logs: Any = ctx.client("logs")
    groups: dict[str, dict[str, Any]] = {}
    for prefix in (f"/tenant/{target.names}/", f"/aws/rds/instance/{target.db_identifier}/"):
        for page in logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=prefix):
            groups.update({g["logGroupName"]: g for g in page["logGroups"]})

    def arn(name: str) -> str:
        return f"arn:aws:logs:{target.region}:{report.account}:log-group:{name}"

    for kind in AGENT_LOG_KINDS:
        name = tenant_log_group(target.names, kind)
        if name in groups:
            report.check("logs.agent-groups", arn(name))
        else:
            report.fail("monitoring", "logs.agent-groups", arn(name), target.region,
                        f"no log group {name}: the agent would create it unencrypted")
    security = [tenant_log_group(target.names, k) for k in SECURITY_TENANT_LOGS]
    security += [f"/aws/rds/instance/{target.db_identifier}/{log}" for log in SECURITY_DB_LOGS]
    for name in security:
        days = groups.get(name, {}).get("retentionInDays")
        if name in groups and days is not None and days >= SECURITY_LOG_RETENTION_DAYS:
            report.check("logs.security-retention", arn(name))
        else:
            kept = "missing" if name not in groups else f"kept {days or 'forever'} days"
            report.fail("monitoring", "logs.security-retention", arn(name), target.region,
                        f"security log group {name} {kept}: keep it"
                        f" {SECURITY_LOG_RETENTION_DAYS} days, deleted with the tenant")


def check_database(ctx: Context) -> None:
    rds: Any = ctx.client("rds")
    try:
        dbs = rds.describe_db_instances(DBInstanceIdentifier=ctx.target.db_identifier)
    except Exception:  # a missing database is inventory.present's finding
        return
    for db in dbs["DBInstances"]:
        _check_db(ctx, db)


def _check_db(ctx: Context, db: dict[str, Any]) -> None:
    report, region, arn = ctx.report, ctx.target.region, db["DBInstanceArn"]
    if db.get("MonitoringInterval", 0) > 0 and db.get("MonitoringRoleArn"):
        report.check("rds.enhanced-monitoring", arn)
    else:
        report.fail("monitoring", "rds.enhanced-monitoring", arn, region,
                    "enhanced monitoring is off (MonitoringInterval 0 or no role)")
    # Automatic minor upgrades: `rds.auto-minor-upgrade` (checks_hardening), checked once.
    problems = [f"{e} not exported" for e in DB_EXPORTS_NEEDED
                if e not in db.get("EnabledCloudwatchLogsExports", [])]
    for group in db.get("DBParameterGroups", []):
        name = group["DBParameterGroupName"]
        problems += [f"{p} not 1 in {name}" for p in ("general_log", "slow_query_log")
                     if parameter_value(ctx, name, p) != "1"]
    if not _audit_plugin(ctx, db):
        problems.append(f"no {DB_AUDIT_PLUGIN} logging {','.join(DB_AUDIT_EVENTS)}")
    if problems:
        report.fail("monitoring", "rds.logs-produced", arn, region, "; ".join(problems))
    else:
        report.check("rds.logs-produced", arn)


def _audit_plugin(ctx: Context, db: dict[str, Any]) -> bool:
    rds: Any = ctx.client("rds")
    for membership in db.get("OptionGroupMemberships", []):
        groups = rds.describe_option_groups(OptionGroupName=membership["OptionGroupName"])
        for group in groups["OptionGroupsList"]:
            for option in group.get("Options", []):
                if option.get("OptionName") != DB_AUDIT_PLUGIN:
                    continue
                settings = {s["Name"]: s.get("Value", "") for s in option.get("OptionSettings", [])}
                events = {e.strip() for e in settings.get("SERVER_AUDIT_EVENTS", "").split(",")}
                if set(DB_AUDIT_EVENTS) <= events:
                    return True
    return False


def check_patching(ctx: Context) -> None:
    target, report = ctx.target, ctx.report
    ssm: Any = ctx.client("ssm")
    name = f"t-{target.names}-patching"
    windows = ssm.describe_maintenance_windows(
        Filters=[{"Key": "Name", "Values": [name]}])["WindowIdentities"]
    window_arn = f"arn:aws:ssm:{target.region}:{report.account}:maintenancewindow/{name}"
    if any(w.get("Enabled") for w in windows):
        report.check("ssm.patch-window", window_arn)
    else:
        report.fail("patching", "ssm.patch-window", window_arn, target.region,
                    f"no enabled maintenance window {name}: nothing installs patches")
    for server in ctx.of_kind("ec2:instance"):
        pages = ssm.get_paginator("list_resource_compliance_summaries").paginate(Filters=[
            {"Key": "ComplianceType", "Values": ["Patch"], "Type": "EQUAL"},
            {"Key": "InstanceId", "Values": [server.resource_id], "Type": "EQUAL"},
        ])
        items = [i for page in pages for i in page.get("ResourceComplianceSummaryItems", [])
                 if i.get("ResourceId") == server.resource_id]
        if not items:
            report.fail("patching", "ssm.patch-compliance", server.arn, target.region,
                        "no patch compliance reported: the scan association never ran")
        elif any(i.get("Status") != "COMPLIANT" for i in items):
            counts = items[0].get("NonCompliantSummary", {}).get("SeveritySummary", {})
            missing = ", ".join(f"{k.removesuffix('Count').lower()} {v}"
                                for k, v in sorted(counts.items()) if v)
            report.fail("patching", "ssm.patch-compliance", server.arn, target.region,
                        f"patches missing ({missing or 'non-compliant'})")
        else:
            report.check("ssm.patch-compliance", server.arn)


def protected_arns(ctx: Context) -> list[str]:
    """What the daily plan protects: the database, the app servers, their data volumes (as
    tagged for the tenant; an untagged database is inventory.present's finding)."""
    return [r.arn for kind in ("rds:db", "ec2:instance", "ec2:volume") for r in ctx.of_kind(kind)]


def check_last_backup_jobs(ctx: Context, now: datetime | None = None) -> None:
    """The newest backup job of each protected resource completed within 26 hours."""
    now = now or datetime.now(UTC)
    since = now - timedelta(hours=BACKUP_JOB_MAX_AGE_HOURS)
    backup: Any = ctx.client("backup")
    for arn in protected_arns(ctx):
        jobs = [j for page in backup.get_paginator("list_backup_jobs").paginate(ByResourceArn=arn)
                for j in page.get("BackupJobs", [])]
        jobs.sort(key=lambda j: j["CreationDate"], reverse=True)
        newest = jobs[0] if jobs else None
        if newest is None:
            why = "no backup job ever ran"
        elif newest.get("State") != "COMPLETED":
            why = (f"the newest backup job ({newest['CreationDate']:%Y-%m-%d %H:%M} UTC) is"
                   f" {newest.get('State')}: {newest.get('StatusMessage', '')}".rstrip(": "))
        elif newest.get("CompletionDate") is None or newest["CompletionDate"] < since:
            why = (f"the last backup job completed {newest.get('CompletionDate')}, more than"
                   f" {BACKUP_JOB_MAX_AGE_HOURS} hours ago")
        else:
            ctx.report.check("backup.last-job", arn)
            continue
        ctx.report.fail("backups", "backup.last-job", arn, ctx.target.region, why)


def check_monitoring(ctx: Context, now: datetime | None = None) -> None:
    check_alarms(ctx)
    check_log_groups(ctx)
    check_database(ctx)
    check_patching(ctx)
    check_last_backup_jobs(ctx, now)
