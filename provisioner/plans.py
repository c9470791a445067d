"""The product's plans and the sizes each one gets.

Plans are the product catalogue, not per-region data: every location offers every plan.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from provisioner.errors import UsageError


@dataclass(frozen=True)
class AlarmThresholds:
    """When a tenant's CloudWatch alarms go off (each notifies the region's alert topic)."""

    lb_5xx_percent: float  # share of requests answered 5xx by the app or the load balancer
    db_cpu_percent: float  # database CPU, averaged over 3 x 5 minutes
    db_free_storage_percent: float  # free storage below this share of allocated storage
    db_free_memory_mib: int  # freeable memory below this
    db_connections: int  # connections above this (each class's max_connections is higher)
    certificate_days: int  # ACM renews 60 days ahead: fewer days left means renewal failed


@dataclass(frozen=True)
class PlanSizes:
    """What one plan buys: compute, database, and how long things are kept."""

    name: str
    paid: bool  # billed plans; trial and free are not
    instance_type: str  # EC2 type of the app server
    data_volume_gib: int  # the app server's encrypted data volume
    db_instance_class: str  # RDS class
    db_storage_gib: int  # allocated RDS storage
    db_max_storage_gib: int  # storage autoscaling ceiling
    multi_az: bool  # RDS standby in a second zone
    backup_retention_days: int  # RDS automated backups and AWS Backup recovery points
    log_retention_days: int  # CloudWatch log groups (must be a value CloudWatch accepts)
    deletion_protection: bool  # RDS and load balancer refuse deletion until it is turned off
    performance_insights: bool  # RDS Performance Insights (encrypted with the tenant key)
    db_monitoring_seconds: int  # RDS enhanced monitoring interval (1, 5, 10, 15, 30 or 60)
    patch_approval_days: int  # security updates auto-approved this many days after release
    alarms: AlarmThresholds

    @property
    def security_log_retention_days(self) -> int:
        """Security logs (flow logs, database audit, SSM sessions, load balancer access logs,
        WAF) are kept at least a year whatever the plan; deleting the tenant deletes them."""
        return max(self.log_retention_days, SECURITY_LOG_RETENTION_DAYS)


SECURITY_LOG_RETENTION_DAYS = 365  # a value CloudWatch Logs accepts

_SMALL_ALARMS = AlarmThresholds(lb_5xx_percent=5.0, db_cpu_percent=90.0,
                                db_free_storage_percent=10.0, db_free_memory_mib=64,
                                db_connections=50, certificate_days=30)

PLANS: dict[str, PlanSizes] = {
    "trial": PlanSizes(
        name="trial",
        paid=False,
        instance_type="t3.small",
        data_volume_gib=20,
        db_instance_class="db.t4g.micro",
        db_storage_gib=20,
        db_max_storage_gib=50,
        multi_az=False,
        backup_retention_days=7,
        log_retention_days=30,
        deletion_protection=False,
        performance_insights=False,
        db_monitoring_seconds=60,
        patch_approval_days=7,
        alarms=_SMALL_ALARMS,
    ),
    "standard": PlanSizes(
        name="standard",
        paid=True,
        instance_type="t3.large",
        data_volume_gib=100,
        db_instance_class="db.t4g.medium",
        db_storage_gib=100,
        db_max_storage_gib=500,
        multi_az=True,
        backup_retention_days=14,
        log_retention_days=90,
        deletion_protection=True,
        performance_insights=True,
        db_monitoring_seconds=30,
        patch_approval_days=7,
        alarms=AlarmThresholds(lb_5xx_percent=2.0, db_cpu_percent=85.0,
                               db_free_storage_percent=10.0, db_free_memory_mib=256,
                               db_connections=300, certificate_days=30),
    ),
    "enterprise": PlanSizes(
        name="enterprise",
        paid=True,
        instance_type="m6i.xlarge",
        data_volume_gib=500,
        db_instance_class="db.m6g.xlarge",
        db_storage_gib=500,
        db_max_storage_gib=2000,
        multi_az=True,
        backup_retention_days=35,
        log_retention_days=365,
        deletion_protection=True,
        performance_insights=True,
        db_monitoring_seconds=15,
        patch_approval_days=3,
        alarms=AlarmThresholds(lb_5xx_percent=1.0, db_cpu_percent=80.0,
                               db_free_storage_percent=10.0, db_free_memory_mib=1024,
                               db_connections=1000, certificate_days=30),
    ),
}


# Free accounts run on trial sizes; they differ in billing and retention rules, not resources.
PLANS["free"] = replace(PLANS["trial"], name="free")

# The retention range of every backup vault (its Vault Lock, or a logically air-gapped vault's
# own range), the same for every plan: a compliance-mode lock cannot be changed once its grace
# time has passed and an air-gapped vault's range is fixed at creation, so a range per plan would
# make every plan change (a trial converting, free to standard) replace locks AWS refuses to
# touch, and air-gapped vaults holding the copies. Each plan's own retention is the lifecycle of
# its recovery points, which AWS accepts only inside the vault's range: the minimum is the
# shortest plan's (7 days, also the least an air-gapped vault accepts and Security Hub RDS.11's
# floor), the maximum the longest plan's, so nobody (an attacker in the tenant's account
# included) can put a recovery point in a vault for longer than a plan keeps it. A plan keeping
# backups outside this range needs new vaults (tests/stack/test_backup.py fails first).
VAULT_MIN_RETENTION_DAYS = 7
VAULT_MAX_RETENTION_DAYS = 35


def get_plan(name: str) -> PlanSizes:
    key = name.strip().lower()
    if key not in PLANS:
        raise UsageError(f"unknown plan {name!r}: use one of {', '.join(PLANS)}")
    return PLANS[key]
