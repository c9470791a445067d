"""The tenant's own KMS key: customer-managed, rotated, multi-region.

A multi-region key with a replica in the backup destination lets AWS Backup re-encrypt copies
there under the same key material, so scheduling this one key for deletion makes every copy of
the tenant's data unreadable everywhere (crypto-shredding is one decision). Air-gapped
destinations live in the same region and use the primary key directly.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from provisioner.spec import TenantSpec
from stacks.components.base import TenantPart

KEY_DELETION_WINDOW_DAYS = 7  # the minimum: after a deletion order the key is gone within a week
KEY_ROTATION_PERIOD_DAYS = 365


def _key_policy(account_id: str, region: str) -> str:
    """Root of the account administers the key (IAM decides who uses it); CloudWatch Logs may
    use it only for this account's log groups in this region."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AccountAdministers",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                },
                {
                    "Sid": "CloudWatchLogsEncrypt",
                    "Effect": "Allow",
                    "Principal": {"Service": f"logs.{region}.amazonaws.com"},
                    "Action": [
                        "kms:Encrypt*",
                        "kms:Decrypt*",
                        "kms:ReEncrypt*",
                        "kms:GenerateDataKey*",
                        "kms:Describe*",
                    ],
                    "Resource": "*",
                    "Condition": {
                        "ArnLike": {
                            "kms:EncryptionContext:aws:logs:arn": (
                                f"arn:aws:logs:{region}:{account_id}:log-group:*"
                            )
                        }
                    },
                },
            ],
        },
        sort_keys=True,
    )


class Keys(TenantPart):
    """The tenant key, its alias, and its replica in the backup destination."""

    def __init__(
        self,
        name: str,
        spec: TenantSpec,
        account_id: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("Keys", name, spec, opts)
        alias_name = f"alias/tenant-{spec.instance_id}"
        self.key = aws.kms.Key(
            f"{name}-key",
            description=f"Tenant {spec.instance_id}: data, volumes, logs, secrets and backups",
            customer_master_key_spec="SYMMETRIC_DEFAULT",  # AES-256-GCM
            key_usage="ENCRYPT_DECRYPT",
            enable_key_rotation=True,
            rotation_period_in_days=KEY_ROTATION_PERIOD_DAYS,
            multi_region=True,
            deletion_window_in_days=KEY_DELETION_WINDOW_DAYS,
            policy=pulumi.Output.from_input(account_id).apply(
                lambda acct: _key_policy(acct, spec.region)
            ),
            region=self.region,
            tags=self.tags(Name=alias_name),
            opts=self.child(),
        )
        aws.kms.Alias(
            f"{name}-alias",
            name=alias_name,
            target_key_id=self.key.key_id,
            region=self.region,
            opts=self.child(),
        )
        self.backup_key_arn: pulumi.Output[str] = self.key.arn
        if spec.location.backup_is_cross_region:
            dest = spec.location.backup.region
            replica = aws.kms.ReplicaKey(
                f"{name}-replica",
                primary_key_arn=self.key.arn,
                description=f"Tenant {spec.instance_id}: backup copies in {dest}",
                deletion_window_in_days=KEY_DELETION_WINDOW_DAYS,
                policy=pulumi.Output.from_input(account_id).apply(
                    lambda acct: _key_policy(acct, dest)
                ),
                region=dest,
                tags=self.tags(Name=f"{alias_name}-backup"),
                opts=self.child(),
            )
            aws.kms.Alias(
                f"{name}-replica-alias",
                name=alias_name,
                target_key_id=replica.key_id,
                region=dest,
                opts=self.child(),
            )
            self.backup_key_arn = replica.arn
        self.register_outputs({"key_arn": self.key.arn})
