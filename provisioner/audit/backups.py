"""A tenant's backups: what exists (with age, place and key) and on-demand backups.

Sources, in the tenant's region and its backup region:
- database snapshots of `t-{slug}-db` (automated, manual, and AWS Backup's `awsbackup` ones;
  copies keep the source instance's identifier);
- EBS snapshots tagged for the tenant;
- recovery points in the tenant's AWS Backup vaults (ListRecoveryPointsByBackupVault).
On-demand backups go through AWS Backup (StartBackupJob) into the vault the daily rule uses,
with the IAM role of the plan's selection, so they are encrypted and retained like the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from provisioner.audit.clients import Clients, aws_errors
from provisioner.audit.context import Context
from provisioner.audit.discovery import Discovery, account_id, of_kind
from provisioner.audit.model import Report, Target
from provisioner.errors import CheckFailed


@dataclass(frozen=True, order=True)
class Backup:
    created: datetime
    kind: str  # "rds-snapshot", "ebs-snapshot", "recovery-point"
    id: str
    region: str
    source: str  # what it is a backup of
    status: str
    kms_key: str
    encrypted: bool

    def to_dict(self, now: datetime, ctx: Context) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.id,
            "region": self.region,
            "source": self.source,
            "status": self.status,
            "created": self.created.isoformat(),
            "age_hours": round((now - self.created).total_seconds() / 3600, 1),
            "encrypted": self.encrypted,
            "kms_key": self.kms_key,
            "tenant_key": ctx.is_tenant_key(self.kms_key),
        }


def context(clients: Clients, target: Target) -> Context:
    """A Context with the tenant key resolved (findings about the key are kept in its report)."""
    from provisioner.audit.context import resolve_tenant_key

    report = Report(
        slug=target.slug,
        location=target.location.code,
        region=target.region,
        account=account_id(clients, target.region),
    )
    ctx = Context(clients=clients, target=target, report=report)
    resolve_tenant_key(ctx)
    return ctx


def _in_region(ctx: Context, region: str) -> list[Backup]:
    found: list[Backup] = []
    rds: Any = ctx.client("rds", region)
    pages = rds.get_paginator("describe_db_snapshots").paginate(
        DBInstanceIdentifier=ctx.target.db_identifier
    )
    for snap in (s for page in pages for s in page["DBSnapshots"]):
        found.append(
            Backup(
                created=snap["SnapshotCreateTime"],
                kind="rds-snapshot",
                id=snap["DBSnapshotArn"],
                region=region,
                source=snap["DBInstanceIdentifier"],
                status=snap.get("Status", ""),
                kms_key=snap.get("KmsKeyId", ""),
                encrypted=bool(snap.get("Encrypted")),
            )
        )
    ec2: Any = ctx.client("ec2", region)
    pages = ec2.get_paginator("describe_snapshots").paginate(
        OwnerIds=["self"], Filters=[{"Name": "tag:tenant", "Values": [ctx.target.slug]}]
    )
    for snap in (s for page in pages for s in page["Snapshots"]):
        found.append(
            Backup(
                created=snap["StartTime"],
                kind="ebs-snapshot",
                id=snap["SnapshotId"],
                region=region,
                source=snap.get("VolumeId", ""),
                status=snap.get("State", ""),
                kms_key=snap.get("KmsKeyId", ""),
                encrypted=bool(snap.get("Encrypted")),
            )
        )
    backup: Any = ctx.client("backup", region)
    tagged = Discovery(ctx.clients, ctx.target.slug, ctx.target.region).tagged(region)
    for vault in of_kind(tagged, "backup:backup-vault"):
        pages = backup.get_paginator("list_recovery_points_by_backup_vault").paginate(
            BackupVaultName=vault.resource_id
        )
        for point in (p for page in pages for p in page.get("RecoveryPoints", [])):
            found.append(
                Backup(
                    created=point["CreationDate"],
                    kind="recovery-point",
                    id=point["RecoveryPointArn"],
                    region=region,
                    source=point.get("ResourceArn", ""),
                    status=point.get("Status", ""),
                    kms_key=point.get("EncryptionKeyArn", ""),
                    encrypted=bool(point.get("IsEncrypted", bool(point.get("EncryptionKeyArn")))),
                )
            )
    return found


def list_backups(clients: Clients, target: Target, now: datetime) -> list[dict[str, Any]]:
    """Every backup of the tenant in its regions, newest first."""
    with aws_errors():
        ctx = context(clients, target)
        found = [b for region in target.regions for b in _in_region(ctx, region)]
    return [b.to_dict(now, ctx) for b in sorted(set(found), reverse=True)]


def _daily_vault_and_role(ctx: Context) -> tuple[str, str]:
    """The vault the daily rule writes to and the role its selection uses."""
    from provisioner.audit.checks_backup import is_daily

    backup: Any = ctx.client("backup")
    plans = ctx.backup_plans()
    for plan_arn in plans:
        plan_id = plan_arn.rsplit(":", 1)[-1]
        rules = backup.get_backup_plan(BackupPlanId=plan_id)["BackupPlan"].get("Rules", [])
        vaults = [
            r["TargetBackupVaultName"] for r in rules if is_daily(r.get("ScheduleExpression"))
        ]
        selections = backup.list_backup_selections(BackupPlanId=plan_id).get(
            "BackupSelectionsList", []
        )
        if vaults and selections:
            return vaults[0], selections[0]["IamRoleArn"]
    raise CheckFailed(
        f"tenant {ctx.target.slug!r} has no backup plan with a daily rule and a selection in"
        f" {ctx.target.region}: run 'provisioner audit {ctx.target.slug}' to see why"
    )


def create_backups(clients: Clients, target: Target, now: datetime) -> list[dict[str, str]]:
    """Start an on-demand AWS Backup job for the database and each tenant volume.

    The idempotency token is per resource and minute: a retried command does not start a second
    job, a later one does.
    """
    from provisioner.audit.checks_storage import tenant_volumes

    with aws_errors():
        ctx = context(clients, target)
        ctx.resources = Discovery(clients, target.slug, target.region).tagged(target.region)
        vault, role = _daily_vault_and_role(ctx)
        account = ctx.report.account
        arns = [f"arn:aws:rds:{target.region}:{account}:db:{target.db_identifier}"]
        arns += [
            f"arn:aws:ec2:{target.region}:{account}:volume/{v['VolumeId']}"
            for v in tenant_volumes(ctx)
        ]
        backup: Any = ctx.client("backup")
        jobs = []
        for arn in arns:
            job = backup.start_backup_job(
                BackupVaultName=vault,
                ResourceArn=arn,
                IamRoleArn=role,
                IdempotencyToken=f"{arn.rsplit(':', 1)[-1]}-{now:%Y%m%d%H%M}",
            )
            jobs.append(
                {
                    "resource": arn,
                    "job_id": job["BackupJobId"],
                    "recovery_point": job.get("RecoveryPointArn", ""),
                    "vault": vault,
                }
            )
    return jobs
