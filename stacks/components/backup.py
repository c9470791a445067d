"""AWS Backup: a vault under the tenant key, a daily plan with a copy to the location's backup
destination, and a selection covering the database and the volumes.

The destination is a vault in another region of the same jurisdiction, encrypted with the
replica of the tenant's multi-region key, or, where the jurisdiction has one AWS region (UK,
Singapore), a logically air-gapped vault in that region. Cold storage is not used: cold
recovery points cannot be copied across regions.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from provisioner.promises import BACKUP_SCHEDULE
from provisioner.spec import TenantSpec
from stacks.components.base import TenantPart, assume_role_policy

BACKUP_ROLE_POLICIES = (
    "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
    "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores",
)
START_WINDOW_MINUTES = 60
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
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("Backup", name, spec, opts)
        retention = spec.plan.backup_retention_days
        vault_name = f"tenant-{spec.instance_id}"
        self.vault = aws.backup.Vault(
            f"{name}-vault",
            name=vault_name,
            kms_key_arn=key_arn,
            force_destroy=True,  # deleting a tenant deletes its recovery points
            region=self.region,
            tags=self.tags(),
            opts=self.child(),
        )
        destination = spec.location.backup
        copy_vault: aws.backup.Vault | aws.backup.LogicallyAirGappedVault
        if destination.mode == "cross-region":
            copy_vault = aws.backup.Vault(
                f"{name}-copy-vault",
                name=f"{vault_name}-copy",
                kms_key_arn=destination_key_arn,
                force_destroy=True,
                region=destination.region,
                tags=self.tags(purpose="backup-copy"),
                opts=self.child(),
            )
        else:
            copy_vault = aws.backup.LogicallyAirGappedVault(
                f"{name}-air-gapped-vault",
                name=f"{vault_name}-air-gapped",
                encryption_key_arn=destination_key_arn,
                min_retention_days=retention,
                max_retention_days=retention,
                region=destination.region,
                tags=self.tags(purpose="backup-copy"),
                opts=self.child(),
            )
        self.copy_vault = copy_vault
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
            name=f"tenant-{spec.instance_id}",
            plan_id=plan.id,
            iam_role_arn=role.arn,
            resources=list(protected_arns),
            region=self.region,
            opts=self.child(depends_on=attachments),
        )
        self.register_outputs({"vault": self.vault.name})
