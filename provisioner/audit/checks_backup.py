"""Backups: a vault under the tenant key, a daily rule, and its copy to the configured destination.

The copy must land where regions.yaml says: in the location's backup account (read as the
platform's backup role there), in another region of the same jurisdiction or an air-gapped vault
in the same region, in a vault encrypted with a key of the backup account and locked in
compliance mode for at least the plan's backup retention.
Selections are read with ListBackupSelections/GetBackupSelection (moto 5.2.5 does not implement
them; the tests stub those two calls with botocore's Stubber).
"""

from __future__ import annotations

from typing import Any

from provisioner.audit.clients import is_not_found
from provisioner.audit.context import Context
from provisioner.audit.discovery import arn_region
from provisioner.regions import catalogue

AIR_GAPPED = "LOGICALLY_AIR_GAPPED_BACKUP_VAULT"


def region_jurisdictions() -> dict[str, str]:
    """Jurisdiction of every region regions.yaml names (signup regions and backup regions)."""
    known: dict[str, str] = {}
    for loc in catalogue().locations.values():
        known.setdefault(loc.region, loc.jurisdiction)
        known.setdefault(loc.backup.region, loc.jurisdiction)
    return known


def is_daily(expression: str | None) -> bool:
    """True for an AWS Backup cron that fires every day: `cron(0 3 ? * * *)`."""
    if not expression or not expression.startswith("cron(") or not expression.endswith(")"):
        return False
    fields = expression[5:-1].split()
    if len(fields) != 6:
        return False
    _minute, _hour, day_of_month, month, day_of_week, _year = fields
    return day_of_month in {"*", "?"} and month == "*" and day_of_week in {"*", "?"}


def check_vaults(ctx: Context) -> None:
    backup: Any = ctx.client("backup")
    for resource in ctx.of_kind("backup:backup-vault"):
        vault = backup.describe_backup_vault(BackupVaultName=resource.resource_id)
        key = vault.get("EncryptionKeyArn")
        if ctx.is_tenant_key(key):
            ctx.report.check("backup.vault-encrypted-with-tenant-key", resource.arn)
        else:
            ctx.report.fail(
                "at-rest",
                "backup.vault-encrypted-with-tenant-key",
                resource.arn,
                ctx.target.region,
                f"vault encrypted with {key}, not the tenant key {ctx.expected_key()}",
            )


def _check_copy(ctx: Context, plan_arn: str, copy: dict[str, Any]) -> bool:
    """Check one copy action; True when it goes to the configured destination."""
    target, report = ctx.target, ctx.report
    dest_arn = copy.get("DestinationBackupVaultArn", "")
    dest_region = arn_region(dest_arn) if dest_arn.count(":") >= 5 else ""
    jurisdiction = region_jurisdictions().get(dest_region)
    if dest_region != target.backup_region:
        where = (
            f"jurisdiction {jurisdiction}"
            if jurisdiction
            else "a region regions.yaml does not name"
        )
        promise = "residency" if jurisdiction != target.location.jurisdiction else "backups"
        report.fail(
            promise,
            "backup.copy-destination",
            plan_arn,
            target.region,
            f"daily copy goes to {dest_arn} in {dest_region or '?'} ({where}), not to"
            f" {target.backup_region} ({target.location.jurisdiction}) as regions.yaml says",
        )
        return False
    want_account = target.location.backup.account_id
    dest_account = dest_arn.split(":")[4] if dest_arn.count(":") >= 5 else ""
    if dest_account != want_account:
        report.fail(
            "backups",
            "backup.copy-account",
            plan_arn,
            target.region,
            f"daily copy goes to account {dest_account or '?'}, not the location's backup"
            f" account {want_account}: the tenant's account could delete it",
        )
        return False
    report.check("backup.copy-account", plan_arn)
    backup: Any = ctx.backup_account_client("backup")
    try:
        vault = backup.describe_backup_vault(BackupVaultName=dest_arn.rsplit(":", 1)[-1])
    except Exception as exc:
        if not is_not_found(exc):
            raise
        report.fail(
            "backups",
            "backup.copy-destination",
            plan_arn,
            target.region,
            f"copy destination vault {dest_arn} does not exist",
        )
        return False
    air_gapped = vault.get("VaultType") == AIR_GAPPED
    if target.location.backup.mode == "air-gapped" and not air_gapped:
        report.fail(
            "backups",
            "backup.copy-destination",
            dest_arn,
            dest_region,
            f"destination must be a logically air-gapped vault, is {vault.get('VaultType')}",
        )
        return False
    key = str(vault.get("EncryptionKeyArn") or "")
    if key.split(":")[4:5] != [want_account]:
        report.fail(
            "at-rest",
            "backup.copy-encrypted-with-backup-account-key",
            dest_arn,
            dest_region,
            f"destination vault encrypted with {key or 'no key'}, not a key the backup account"
            f" {want_account} owns",
        )
        return False
    if not air_gapped and not vault.get("Locked"):
        report.fail(
            "backups",
            "backup.vault-lock",
            dest_arn,
            dest_region,
            "the copy vault is not locked (Vault Lock in compliance mode)",
        )
        return False
    report.check("backup.copy-destination", plan_arn)
    return True


def _check_selections(ctx: Context, plan_id: str, plan_arn: str) -> None:
    backup: Any = ctx.client("backup")
    selections = [
        s
        for page in backup.get_paginator("list_backup_selections").paginate(BackupPlanId=plan_id)
        for s in page.get("BackupSelectionsList", [])
    ]
    db_arn = f"arn:aws:rds:{ctx.target.region}:{ctx.report.account}:db:{ctx.target.db_identifier}"
    for summary in selections:
        selection = backup.get_backup_selection(
            BackupPlanId=plan_id, SelectionId=summary["SelectionId"]
        )["BackupSelection"]
        by_tag = any(
            t.get("ConditionKey") in {"tenant", "aws:ResourceTag/tenant"}
            and t.get("ConditionValue") == ctx.target.slug
            for t in selection.get("ListOfTags", [])
        )
        if (
            by_tag
            or db_arn in selection.get("Resources", [])
            or "*" in selection.get("Resources", [])
        ):
            ctx.report.check("backup.selection", plan_arn)
            return
    ctx.report.fail(
        "backups",
        "backup.selection",
        plan_arn,
        ctx.target.region,
        f"no selection of this plan covers the database {db_arn} (by ARN or by tag"
        f" tenant={ctx.target.slug})",
    )


def check_plans(ctx: Context) -> None:
    target, report = ctx.target, ctx.report
    backup: Any = ctx.client("backup")
    plans = ctx.backup_plans()
    if not plans:
        report.fail(
            "backups",
            "backup.daily-rule",
            f"arn:aws:backup:{target.region}:{report.account}:backup-plan:*",
            target.region,
            f"no AWS Backup plan tagged tenant={target.slug}",
        )
        return
    for plan_arn in plans:
        plan_id = plan_arn.rsplit(":", 1)[-1]
        rules = backup.get_backup_plan(BackupPlanId=plan_id)["BackupPlan"].get("Rules", [])
        daily = [r for r in rules if is_daily(r.get("ScheduleExpression"))]
        if not daily:
            shown = ", ".join(str(r.get("ScheduleExpression")) for r in rules) or "no rules"
            report.fail(
                "backups",
                "backup.daily-rule",
                plan_arn,
                target.region,
                f"no daily rule ({shown})",
            )
            continue
        report.check("backup.daily-rule", plan_arn)
        copies = [c for r in daily for c in r.get("CopyActions", [])]
        if not copies:
            report.fail(
                "backups",
                "backup.copy-destination",
                plan_arn,
                target.region,
                "the daily rule copies nowhere: no separate vault holds the backups",
            )
        for copy in copies:
            _check_copy(ctx, plan_arn, copy)
        _check_selections(ctx, plan_id, plan_arn)
