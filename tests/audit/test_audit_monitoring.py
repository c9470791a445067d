"""The live audit's logging, monitoring and patching checks, against moto's server.

A compliant tenant passes them (with coverage: each ran on the tenant's resources); each
violation, made with plain boto3 (or, for what moto lacks, an SSM compliance or AWS Backup job
answer validated against the service model), yields exactly its finding.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from provisioner.audit.clients import Clients
from provisioner.audit.model import Report, Target

from .builder import Built, client
from .builder_monitoring import backup_job, compliance
from .stubs import BackupStubs

REGIONS = ["eu-central-1"]


def audit(clients: Clients, built: Built, now: datetime | None = None) -> Report:
    from provisioner.audit.runner import audit_tenant

    return audit_tenant(clients, Target(built.slug, built.location), regions=REGIONS, now=now)


def findings(report: Report) -> set[tuple[str, str, str]]:
    return {(f.rule, f.promise, f.arn) for f in report.findings}


def _alarm_arn(b: Built, what: str) -> str:
    return f"arn:aws:cloudwatch:{b.region}:{b.account}:alarm:t-{b.slug}-{what}"


def _group_arn(b: Built, name: str) -> str:
    return f"arn:aws:logs:{b.region}:{b.account}:log-group:{name}"


def _instance_arn(b: Built) -> str:
    return f"arn:aws:ec2:{b.region}:{b.account}:instance/{b.instance_id}"


def test_compliant_tenant_passes_with_coverage(clients: Clients, tenant: Built) -> None:
    report = audit(clients, tenant)
    assert report.findings == []
    checked = report.to_dict()["checked"]
    assert len(checked["monitoring.alarms"]) == 9
    assert _alarm_arn(tenant, "server-system-status") in checked["monitoring.alarms"]
    assert tenant.db_arn in checked["rds.logs-produced"]
    assert tenant.db_arn in checked["rds.enhanced-monitoring"]
    assert _instance_arn(tenant) in checked["ssm.patch-compliance"]
    assert {tenant.db_arn, _instance_arn(tenant)} <= set(checked["backup.last-job"])
    assert _group_arn(tenant, f"/tenant/{tenant.slug}/ssm-sessions") in \
        checked["logs.security-retention"]


def _put_alarm(b: Built, what: str, actions: list[str], enabled: bool = True) -> None:
    client("cloudwatch", b.region).put_metric_alarm(
        AlarmName=f"t-{b.slug}-{what}", Namespace="AWS/RDS", MetricName="CPUUtilization",
        Statistic="Average", Period=300, EvaluationPeriods=3, Threshold=80,
        ComparisonOperator="GreaterThanThreshold", AlarmActions=actions, ActionsEnabled=enabled)


def _topic(b: Built) -> str:
    return f"arn:aws:sns:{b.region}:{b.account}:provisioner-alerts"


def _alarm_deleted(b: Built) -> tuple[str, str, str]:
    client("cloudwatch", b.region).delete_alarms(AlarmNames=[f"t-{b.slug}-db-free-memory"])
    return "monitoring.alarms", "monitoring", _alarm_arn(b, "db-free-memory")


def _alarm_to_nobody(b: Built) -> tuple[str, str, str]:
    _put_alarm(b, "db-cpu", [])
    return "monitoring.alarms", "monitoring", _alarm_arn(b, "db-cpu")


def _alarm_disabled(b: Built) -> tuple[str, str, str]:
    _put_alarm(b, "lb-5xx-rate", [_topic(b)], enabled=False)  # the server is running
    return "monitoring.alarms", "monitoring", _alarm_arn(b, "lb-5xx-rate")


def _no_recovery(b: Built) -> tuple[str, str, str]:
    _put_alarm(b, "server-system-status", [_topic(b)])
    return "monitoring.alarms", "monitoring", _alarm_arn(b, "server-system-status")


def _agent_group_missing(b: Built) -> tuple[str, str, str]:
    name = f"/tenant/{b.slug}/nginx-error"
    client("logs", b.region).delete_log_group(logGroupName=name)
    return "logs.agent-groups", "monitoring", _group_arn(b, name)


def _flow_logs_kept_90_days(b: Built) -> tuple[str, str, str]:
    name = f"/tenant/{b.slug}/vpc-flow-logs"
    client("logs", b.region).put_retention_policy(logGroupName=name, retentionInDays=90)
    return "logs.security-retention", "monitoring", _group_arn(b, name)


def _audit_log_kept_forever(b: Built) -> tuple[str, str, str]:
    name = f"/aws/rds/instance/t-{b.slug}-db/audit"
    client("logs", b.region).delete_retention_policy(logGroupName=name)
    return "logs.security-retention", "monitoring", _group_arn(b, name)


def _general_log_off(b: Built) -> tuple[str, str, str]:
    client("rds", b.region).modify_db_parameter_group(
        DBParameterGroupName=f"t-{b.slug}-mysql8", Parameters=[
            {"ParameterName": "general_log", "ParameterValue": "0", "ApplyMethod": "immediate"}])
    return "rds.logs-produced", "monitoring", b.db_arn


def _no_audit_plugin(b: Built) -> tuple[str, str, str]:
    client("rds", b.region).modify_option_group(
        OptionGroupName=f"t-{b.slug}-audit", OptionsToRemove=["MARIADB_AUDIT_PLUGIN"],
        ApplyImmediately=True)
    return "rds.logs-produced", "monitoring", b.db_arn


def _no_enhanced_monitoring(b: Built) -> tuple[str, str, str]:
    client("rds", b.region).modify_db_instance(
        DBInstanceIdentifier=f"t-{b.slug}-db", MonitoringInterval=0, ApplyImmediately=True)
    return "rds.enhanced-monitoring", "monitoring", b.db_arn


def _no_minor_upgrades(b: Built) -> tuple[str, str, str]:
    client("rds", b.region).modify_db_instance(
        DBInstanceIdentifier=f"t-{b.slug}-db", AutoMinorVersionUpgrade=False,
        ApplyImmediately=True)
    return "rds.auto-minor-upgrade", "at-rest", b.db_arn


def _no_patch_window(b: Built) -> tuple[str, str, str]:
    ssm = client("ssm", b.region)
    name = f"t-{b.slug}-patching"
    for w in ssm.describe_maintenance_windows(
            Filters=[{"Key": "Name", "Values": [name]}])["WindowIdentities"]:
        ssm.delete_maintenance_window(WindowId=w["WindowId"])
    arn = f"arn:aws:ssm:{b.region}:{b.account}:maintenancewindow/{name}"
    return "ssm.patch-window", "patching", arn


VIOLATIONS: dict[str, Callable[[Built], tuple[str, str, str]]] = {
    "alarm-deleted": _alarm_deleted,
    "alarm-to-nobody": _alarm_to_nobody,
    "app-alarm-disabled-while-running": _alarm_disabled,
    "no-ec2-recovery": _no_recovery,
    "agent-group-missing": _agent_group_missing,
    "flow-logs-90-days": _flow_logs_kept_90_days,
    "audit-log-kept-forever": _audit_log_kept_forever,
    "general-log-off": _general_log_off,
    "no-audit-plugin": _no_audit_plugin,
    "no-enhanced-monitoring": _no_enhanced_monitoring,
    "no-minor-upgrades": _no_minor_upgrades,
    "no-patch-window": _no_patch_window,
}


@pytest.mark.parametrize("name", sorted(VIOLATIONS))
def test_each_violation_is_exactly_its_finding(clients: Clients, tenant: Built, name: str
                                               ) -> None:
    expected = VIOLATIONS[name](tenant)
    assert findings(audit(clients, tenant)) == {expected}


def test_a_suspended_tenants_app_alarms_may_be_off(clients: Clients, tenant: Built) -> None:
    client("ec2", tenant.region).stop_instances(InstanceIds=[tenant.instance_id])
    for what in ("lb-5xx-rate", "server-system-status"):
        actions = [_topic(tenant)]
        if what == "server-system-status":
            actions.append(f"arn:aws:automate:{tenant.region}:ec2:recover")
        _put_alarm(tenant, what, actions, enabled=False)
    assert audit(clients, tenant).findings == []
    _put_alarm(tenant, "db-cpu", [_topic(tenant)], enabled=False)  # the data is still watched
    assert findings(audit(clients, tenant)) == {
        ("monitoring.alarms", "monitoring", _alarm_arn(tenant, "db-cpu"))}


@pytest.mark.parametrize("answer,words", [
    ([], "no patch compliance"),
    ([("NON_COMPLIANT", 3)], "critical 3"),
])
def test_patch_compliance_comes_from_ssm(clients: Clients, tenant: Built, stubs: BackupStubs,
                                         answer: list[tuple[str, int]], words: str) -> None:
    stubs.on("ListResourceComplianceSummaries", {"ResourceComplianceSummaryItems": [
        compliance(tenant.instance_id, status, critical) for status, critical in answer]})
    report = audit(clients, tenant)
    assert findings(report) == {("ssm.patch-compliance", "patching", _instance_arn(tenant))}
    assert words in report.findings[0].message
    asked = stubs.called("ListResourceComplianceSummaries")[-1]["Filters"]
    assert {"Key": "ComplianceType", "Values": ["Patch"], "Type": "EQUAL"} in asked


@pytest.mark.parametrize("jobs,words", [
    ([], "no backup job ever ran"),
    ([("FAILED", 3.0), ("COMPLETED", 27.0)], "is FAILED"),
    ([("COMPLETED", 30.0)], "more than 26 hours ago"),
    ([("ABORTED", 1.0), ("COMPLETED", 2.0)], "is ABORTED"),
])
def test_last_backup_job_must_have_succeeded_within_26_hours(
    clients: Clients, tenant: Built, stubs: BackupStubs, jobs: list[tuple[str, float]],
    words: str,
) -> None:
    def answer(params: dict) -> dict:
        arn = params["ByResourceArn"]
        if arn != tenant.db_arn:
            return {"BackupJobs": [backup_job(arn, "COMPLETED", 2.0)]}
        return {"BackupJobs": [backup_job(arn, state, hours, "disk full")
                               for state, hours in jobs]}

    stubs.on("ListBackupJobs", answer)
    report = audit(clients, tenant)
    assert findings(report) == {("backup.last-job", "backups", tenant.db_arn)}
    assert words in report.findings[0].message


def test_backup_jobs_are_judged_from_the_given_instant(clients: Clients, tenant: Built) -> None:
    """The newest job completed ~2 hours before now: a day later it is too old."""
    later = datetime.now(UTC) + timedelta(hours=25)
    rules = {f.rule for f in audit(clients, tenant, now=later).findings}
    assert rules == {"backup.last-job"}
