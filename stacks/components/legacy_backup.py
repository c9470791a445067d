"""The backup copy of the program before the backup account, kept while tenants move over.

Stacks built before the backup account copied their daily backups into a vault of the tenant's
own account (`backup-copy-vault`, in the backup region under a replica of the tenant key, with
`force_destroy`), or, in single-region jurisdictions, into a logically air-gapped vault of the
tenant's account (`backup-air-gapped-vault`). Dropping them from the program would make the next
update delete them, recovery points included, a day before the first copy lands in the backup
account's vault: for that day no copy would be off-site, and for the plan's retention the copies
would be fewer than promised.

So, for a tenant whose spec says `legacy_backup`, the program keeps declaring them under their
old names (the same URNs, so Pulumi updates them in place):
- the copy vault without `force_destroy`, locked in compliance mode like every vault, and
  `retain_on_delete`: whenever it leaves the program, Pulumi drops it from the state and leaves
  it in AWS, where its recovery points expire by their lifecycle (the plan's retention);
- the key replica (which decrypts those copies) with a policy that names who uses it, like the
  tenant key's; it is deleted (7-day window) when it leaves the program, crypto-shredding
  whatever copy is still in the old vault then.
The daily copy goes to the backup account from the first update on. The registry clears
`legacy_backup` only once the new vault has held copies for the plan's retention (`provisioner
backups retire-legacy`); the next update then releases the vault and deletes the replica.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pulumi
import pulumi_aws as aws

from provisioner.regions import catalogue
from provisioner.spec import TenantSpec
from stacks.components.base import TenantPart
from stacks.components.keys import (
    KEY_ADMIN_ACTIONS,
    KEY_DELETION_WINDOW_DAYS,
    KEY_USE_ACTIONS,
    backup_role_name,
)

LEGACY_TAG = "legacy-backup-copy"  # the `purpose` tag of what this module keeps


def legacy_replica_policy(spec: TenantSpec, account: str) -> str:
    """The replica's policy: the platform role administers it; AWS Backup in the backup region
    uses it for the tenant's backup role and the platform (restores, expiry); no replicas."""
    dest = spec.location.backup.region
    admin = catalogue().platform.admin_role_arn(account)
    root = f"arn:aws:iam::{account}:root"
    users = [f"arn:aws:iam::{account}:role/{backup_role_name(spec)}", admin]
    statements: list[dict[str, Any]] = [
        {"Sid": "PlatformAdministers", "Effect": "Allow", "Principal": {"AWS": root},
         "Action": list(KEY_ADMIN_ACTIONS), "Resource": "*",
         "Condition": {"ArnEquals": {"aws:PrincipalArn": [admin]}}},
        {"Sid": "BackupUsesForTenantRoles", "Effect": "Allow", "Principal": {"AWS": root},
         "Action": [*KEY_USE_ACTIONS, "kms:CreateGrant"], "Resource": "*",
         "Condition": {"ArnEquals": {"aws:PrincipalArn": users},
                       "StringEquals": {"kms:ViaService": [f"backup.{dest}.amazonaws.com"]}}},
        {"Sid": "NoReplicas", "Effect": "Deny", "Principal": "*", "Action": "kms:ReplicateKey",
         "Resource": "*"},
    ]  # fmt: skip
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)


def legacy_replica(
    part: TenantPart, name: str, spec: TenantSpec, key: aws.kms.Key,
    account_id: pulumi.Input[str],
) -> pulumi.Output[str] | None:
    """The old key replica and its alias in the backup region (cross-region locations only, as
    before); its ARN, or None where there is none."""
    if not spec.legacy_backup or spec.location.backup.mode != "cross-region":
        return None
    dest = spec.location.backup.region
    alias_name = f"alias/tenant-{spec.instance_id}"
    replica = aws.kms.ReplicaKey(
        f"{name}-replica",
        primary_key_arn=key.arn,
        description=f"Tenant {spec.instance_id}: backup copies in {dest} (before the backup"
                    " account; kept until they expire)",
        deletion_window_in_days=KEY_DELETION_WINDOW_DAYS,
        policy=pulumi.Output.from_input(account_id).apply(
            lambda acct: legacy_replica_policy(spec, acct)),
        region=dest,
        tags=part.tags(Name=f"{alias_name}-backup", purpose=LEGACY_TAG),
        opts=part.child(),
    )
    aws.kms.Alias(
        f"{name}-replica-alias",
        name=alias_name,
        target_key_id=replica.key_id,
        region=dest,
        opts=part.child(),
    )
    return replica.arn


Lock = Callable[[str, pulumi.Input[str], str, pulumi.ResourceOptions], None]


def legacy_copy_vault(
    part: TenantPart, name: str, spec: TenantSpec, key_arn: pulumi.Input[str],
    replica_arn: pulumi.Input[str] | None, lock: Lock,
) -> None:
    """The old in-account copy vault, kept (retained, no force_destroy) and locked by `lock`
    (the Backup component's, as every vault)."""
    if not spec.legacy_backup:
        return
    dest = spec.location.backup
    retention = spec.plan.backup_retention_days
    kept = part.child(retain_on_delete=True)
    tags = part.tags(purpose=LEGACY_TAG)
    if dest.mode == "cross-region":
        assert replica_arn is not None  # legacy_replica made it for every cross-region tenant
        vault = aws.backup.Vault(
            f"{name}-copy-vault",
            name=f"tenant-{spec.instance_id}-copy",
            kms_key_arn=replica_arn,
            region=dest.region,
            tags=tags,
            opts=kept,
        )
        lock(f"{name}-copy-vault-lock", vault.name, dest.region, kept)
        return
    # Locked by its retention range, fixed at creation to the plan's retention of that day. A
    # plan change since must not replace it (it holds the old copies): Pulumi keeps the range it
    # has (`ignore_changes`), and it takes no new copies whose lifecycle could fall outside it.
    aws.backup.LogicallyAirGappedVault(
        f"{name}-air-gapped-vault",
        name=f"tenant-{spec.instance_id}-air-gapped",
        encryption_key_arn=key_arn,
        min_retention_days=retention,
        max_retention_days=retention,
        region=dest.region,
        tags=tags,
        opts=pulumi.ResourceOptions.merge(kept, pulumi.ResourceOptions(
            ignore_changes=["minRetentionDays", "maxRetentionDays"])),
    )
