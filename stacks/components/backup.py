"""AWS Backup: a locked vault under the tenant key, a daily plan whose copy leaves the tenant's
account, and a selection covering the database and the volumes.

The copy goes to the location's **backup account** (through the second, explicit AWS provider):
a vault in another region of the same jurisdiction, or, where the jurisdiction has one AWS
region (UK, Singapore), a logically air-gapped vault in that region. Either is encrypted under a
per-tenant key the backup account owns, so nothing in the tenant's account can delete the copies
or their key. Every vault is locked in compliance mode (AWS Backup Vault Lock); none has
`force_destroy`. The vaults' retention range is the same for every plan (see
`provisioner.plans.VAULT_MIN_RETENTION_DAYS`: a plan change must not replace a lock AWS refuses
to change, or an air-gapped vault holding the copies); the plan's own retention is the lifecycle
of its recovery points. Deleting the tenant's stack therefore leaves the vaults
(`retain_on_delete`): their recovery points expire by retention, and the tenant's keys are
scheduled for deletion, which makes them unreadable first (crypto-shredding). Cold storage is
not used: cold recovery points cannot be copied across regions.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from provisioner.plans import VAULT_MAX_RETENTION_DAYS, VAULT_MIN_RETENTION_DAYS
from provisioner.promises import BACKUP_SCHEDULE
from provisioner.spec import TenantSpec
from stacks.components.base import TenantPart, assume_role_policy
from stacks.components.keys import backup_role_name
from stacks.components.legacy_backup import legacy_copy_vault

BACKUP_ROLE_POLICIES = (
    "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
    "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores",
)
START_WINDOW_MINUTES = 60
# Compliance mode: after this grace period nobody, not even the account root or AWS, can remove
# the lock or delete a recovery point before its retention ends (3 days is the minimum).
LOCK_CHANGEABLE_FOR_DAYS = 3
COMPLETION_WINDOW_MINUTES = 8 * 60  # a daily job must finish well inside the day


class Backup(TenantPart):
    """Vaults, plan and selection."""

    def __init__(
        self,
        name: str,
        spec: TenantSpec,
        key_arn: pulumi.Input[str],
        destination_key_arn: pulumi.Input[str],
        protected_arns: Sequence[pulumi.Input[str]],
        account_id: pulumi.Input[str],
        backup_provider: aws.Provider,
        legacy_replica_arn: pulumi.Input[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("Backup", name, spec, opts)
        retention = spec.plan.backup_retention_days
        vault_name = f"tenant-{spec.instance_id}"
        # Locked vaults outlive the stack: their recovery points expire by retention.
        kept = self.child(retain_on_delete=True)
        self.vault = aws.backup.Vault(
            f"{name}-vault",
            name=vault_name,
            kms_key_arn=key_arn,
            region=self.region,
            tags=self.tags(),
            opts=kept,
        )
        self._lock(f"{name}-vault-lock", self.vault.name, self.region, kept)
        destination = spec.location.backup
        in_backup_account = self.child(provider=backup_provider, retain_on_delete=True)
        copy_vault: aws.backup.Vault | aws.backup.LogicallyAirGappedVault
        if destination.mode == "cross-region":
            copy_vault = aws.backup.Vault(
                f"{name}-account-copy-vault",
                name=f"{vault_name}-copy",
                kms_key_arn=destination_key_arn,
                region=destination.region,
                tags=self.tags(purpose="backup-copy"),
                opts=in_backup_account,
            )
            self._lock(f"{name}-account-copy-vault-lock", copy_vault.name, destination.region,
                       in_backup_account)
        else:
            # Locked by construction: its minimum and maximum retention are fixed at creation
            # (a change replaces the vault), hence the same for every plan.
            copy_vault = aws.backup.LogicallyAirGappedVault(
                f"{name}-account-air-gapped-vault",
                name=f"{vault_name}-air-gapped",
                encryption_key_arn=destination_key_arn,
                min_retention_days=VAULT_MIN_RETENTION_DAYS,
                max_retention_days=VAULT_MAX_RETENTION_DAYS,
                region=destination.region,
                tags=self.tags(purpose="backup-copy"),
                opts=in_backup_account,
            )
        self.copy_vault = copy_vault
        # Stacks from before the backup account keep their old copy until it has expired.
        legacy_copy_vault(self, name, spec, key_arn, legacy_replica_arn, self._lock)
        # The backup account lets this tenant's account copy into the vault, and nothing more.
        aws.backup.VaultPolicy(
            f"{name}-account-copy-vault-policy",
            backup_vault_name=copy_vault.name,
            policy=pulumi.Output.all(copy_vault.arn, account_id).apply(
                lambda v: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "TenantAccountCopiesIn",
                                "Effect": "Allow",
                                "Principal": {"AWS": f"arn:aws:iam::{v[1]}:root"},
                                "Action": "backup:CopyIntoBackupVault",
                                "Resource": v[0],
                            }
                        ],
                    },
                    sort_keys=True,
                )
            ),
            region=destination.region,
            opts=self.child(provider=backup_provider),
        )
        plan = aws.backup.Plan(
            f"{name}-plan",
            name=f"tenant-{spec.instance_id}-daily",
            rules=[
                {
                    "rule_name": "daily",
                    "target_vault_name": self.vault.name,
                    "schedule": BACKUP_SCHEDULE,
                    "schedule_expression_timezone": "Etc/UTC",
                    "start_window": START_WINDOW_MINUTES,
                    "completion_window": COMPLETION_WINDOW_MINUTES,
                    "lifecycle": {"delete_after": retention},
                    "copy_actions": [
                        {
                            "destination_vault_arn": copy_vault.arn,
                            "lifecycle": {"delete_after": retention},
                        }
                    ],
                    "recovery_point_tags": self.tags(),
                }
            ],
            region=self.region,
            tags=self.tags(),
            opts=self.child(),
        )
        role = aws.iam.Role(
            f"{name}-role",
            name=backup_role_name(spec),
            assume_role_policy=assume_role_policy("backup.amazonaws.com"),
            tags=self.tags(),
            opts=self.child(),
        )
        attachments = [
            aws.iam.RolePolicyAttachment(
                f"{name}-role-{i}", role=role.name, policy_arn=arn, opts=self.child()
            )
            for i, arn in enumerate(BACKUP_ROLE_POLICIES)
        ]
        aws.backup.Selection(
            f"{name}-selection",
            # AWS Backup cannot update a selection: a new role (tenant-<id>-backup replaced the
            # auto-named one of stacks built before it) is a new selection, created before the
            # old one is deleted. Its name differs from the old `tenant-<id>` so the two never
            # clash while both exist (<= 50 characters for a 40-character id).
            name=f"{spec.instance_id}-daily",
            plan_id=plan.id,
            iam_role_arn=role.arn,
            resources=list(protected_arns),
            region=self.region,
            opts=self.child(depends_on=attachments),
        )
        self.register_outputs({"vault": self.vault.name})

    def _lock(
        self, name: str, vault_name: pulumi.Input[str], region: str,
        opts: pulumi.ResourceOptions,
    ) -> None:
        """Vault Lock in compliance mode over the vaults' retention range (every plan's
        retention lies inside it; the same for every plan, as the lock cannot change)."""
        aws.backup.VaultLockConfiguration(
            name,
            backup_vault_name=vault_name,
            min_retention_days=VAULT_MIN_RETENTION_DAYS,
            max_retention_days=VAULT_MAX_RETENTION_DAYS,
            changeable_for_days=LOCK_CHANGEABLE_FOR_DAYS,
            region=region,
            opts=opts,
        )
