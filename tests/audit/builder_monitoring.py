"""The logging, monitoring and patching half of a compliant tenant, built with boto3 on moto.

What the tenant stack adds for issue "logging, monitoring and patching": the agent's log groups
(encrypted, security ones kept a year), the database audit log group, the tenant's alarms
notifying the regional topic, the patch maintenance window. The database's own settings
(parameters, audit option group, enhanced monitoring) are made by builder.build_tenant through
`DB_SETTINGS`. moto has no SSM compliance and no AWS Backup jobs: `stub_monitoring` answers
those two calls through the Stubbers (responses validated against the service model).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from provisioner.plans import SECURITY_LOG_RETENTION_DAYS
from provisioner.promises import (
    AGENT_LOG_KINDS,
    DB_AUDIT_EVENTS,
    SYSTEM_STATUS_ALARM,
    TENANT_ALARMS,
    alert_topic_arn,
    ec2_recover_action,
    tenant_log_group,
)

if TYPE_CHECKING:
    from .builder import Built
    from .stubs import BackupStubs

LOG_PARAMETERS = {"general_log": "1", "slow_query_log": "1", "long_query_time": "2"}
DB_EXPORTS = ["error", "general", "slowquery", "audit"]


def audit_option_group(rds: Any, slug: str) -> str:
    name = f"t-{slug}-audit"
    rds.create_option_group(OptionGroupName=name, EngineName="mysql", MajorEngineVersion="8.0",
                            OptionGroupDescription="audit")
    rds.modify_option_group(OptionGroupName=name, ApplyImmediately=True, OptionsToInclude=[
        {"OptionName": "MARIADB_AUDIT_PLUGIN", "OptionSettings": [
            {"Name": "SERVER_AUDIT_EVENTS", "Value": ",".join(DB_AUDIT_EVENTS)}]}])
    return name


def db_settings(rds: Any, slug: str, account: str) -> dict[str, Any]:
    """Extra create_db_instance arguments: audit option group, exports, enhanced monitoring."""
    return {
        "OptionGroupName": audit_option_group(rds, slug),
        "EnableCloudwatchLogsExports": DB_EXPORTS,
        "MonitoringInterval": 60,
        "MonitoringRoleArn": f"arn:aws:iam::{account}:role/t-{slug}-enhanced-monitoring",
    }  # AutoMinorVersionUpgrade: set by the builder itself


def add_monitoring(b: Built, client: Any) -> None:
    region, tags = b.region, {t["Key"]: t["Value"] for t in b.tags}
    logs = client("logs", region)
    for kind in AGENT_LOG_KINDS:
        name = tenant_log_group(b.slug, kind)
        if name != b.log_group:
            logs.create_log_group(logGroupName=name, kmsKeyId=b.key_arn, tags=tags)
    audit = f"/aws/rds/instance/t-{b.slug}-db/audit"
    logs.create_log_group(logGroupName=audit, kmsKeyId=b.key_arn, tags=tags)
    for name in (tenant_log_group(b.slug, "ssm-sessions"), tenant_log_group(b.slug,
                 "vpc-flow-logs"), audit):
        logs.put_retention_policy(logGroupName=name, retentionInDays=SECURITY_LOG_RETENTION_DAYS)
    cloudwatch = client("cloudwatch", region)
    topic = alert_topic_arn(region, b.account)
    for what in TENANT_ALARMS:
        extra = [ec2_recover_action(region)] if what == SYSTEM_STATUS_ALARM else []
        cloudwatch.put_metric_alarm(
            AlarmName=f"t-{b.slug}-{what}", Namespace="AWS/EC2", MetricName="StatusCheckFailed",
            Statistic="Maximum", Period=60, EvaluationPeriods=2, Threshold=0,
            ComparisonOperator="GreaterThanThreshold", AlarmActions=[topic, *extra],
            ActionsEnabled=True)
    client("ssm", region).create_maintenance_window(
        Name=f"t-{b.slug}-patching", Schedule="cron(0 3 ? * SAT *)", Duration=3, Cutoff=1,
        AllowUnassociatedTargets=False)


def remove_monitoring(b: Built, client: Any) -> None:
    """What `pulumi destroy` deletes of the above (the log groups hold tenant data)."""
    logs = client("logs", b.region)
    for kind in AGENT_LOG_KINDS:
        name = tenant_log_group(b.slug, kind)
        if name != b.log_group:
            logs.delete_log_group(logGroupName=name)
    logs.delete_log_group(logGroupName=f"/aws/rds/instance/t-{b.slug}-db/audit")


def backup_job(arn: str, state: str, hours_ago: float, message: str = "") -> dict[str, Any]:
    created = datetime.now(UTC) - timedelta(hours=hours_ago)
    job: dict[str, Any] = {"BackupJobId": f"job-{state}-{hours_ago}", "ResourceArn": arn,
                           "State": state, "CreationDate": created}
    if state == "COMPLETED":
        job["CompletionDate"] = created + timedelta(minutes=20)
    if message:
        job["StatusMessage"] = message
    return job


def compliance(instance_id: str, status: str = "COMPLIANT", critical: int = 0
               ) -> dict[str, Any]:
    item: dict[str, Any] = {"ComplianceType": "Patch", "ResourceType": "ManagedInstance",
                            "ResourceId": instance_id, "Status": status,
                            "OverallSeverity": "CRITICAL" if critical else "UNSPECIFIED",
                            "ExecutionSummary": {"ExecutionTime": datetime.now(UTC)}}
    if critical:
        item["NonCompliantSummary"] = {"NonCompliantCount": critical,
                                       "SeveritySummary": {"CriticalCount": critical}}
    return item


def stub_monitoring(stubs: BackupStubs) -> BackupStubs:
    """A daily job completed two hours ago for every resource; every server compliant."""
    stubs.on("ListBackupJobs", lambda p: {"BackupJobs": [
        backup_job(p["ByResourceArn"], "COMPLETED", 2.0),
        backup_job(p["ByResourceArn"], "COMPLETED", 26.0)]})
    stubs.on("ListResourceComplianceSummaries", lambda p: {
        "ResourceComplianceSummaryItems": [compliance(v) for f in p["Filters"]
                                           if f["Key"] == "InstanceId" for v in f["Values"]]})
    return stubs
