"""The tenant's own KMS keys: one in the tenant's account, one owned by the backup account.

- The **tenant key** (tenant account, tenant region) encrypts the data, volumes, logs, secrets
  and the primary vault. Its policy names who may use it: the platform administration role
  (administration, and use only through AWS services), the tenant's own roles through the
  services they call (`kms:ViaService`), CloudWatch Logs for the tenant's own log groups, and
  the backup account only through AWS Backup (to read recovery points it copies). Nobody gets
  `kms:*`, and `kms:ReplicateKey` is denied except into the location's backup region.
- The **backup key** (backup account, backup region) encrypts the copies. The backup account
  owns and administers it; nothing in the tenant's account can use, disable or delete it.

Crypto-shredding: deleting a tenant schedules deletion of both keys (7-day window); from then on
no copy of its data can be decrypted anywhere, even recovery points a compliance-mode vault
lock keeps until their retention ends.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_aws as aws

from provisioner.regions import catalogue
from provisioner.spec import TenantSpec
from stacks.components.base import TenantPart

KEY_DELETION_WINDOW_DAYS = 7  # the minimum: after a deletion order the key is gone within a week
KEY_ROTATION_PERIOD_DAYS = 365
# What a key administrator may do: everything but using the key for data, and no `kms:*`.
KEY_ADMIN_ACTIONS = (
    "kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*",
    "kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource",
    "kms:UntagResource", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
)  # fmt: skip
# What a role may do with the key through an AWS service that encrypts on its behalf.
KEY_USE_ACTIONS = (
    "kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey",
)  # fmt: skip
# AWS services that use the tenant key on a tenant role's or the platform's behalf.
TENANT_KEY_SERVICES = ("ec2", "rds", "secretsmanager", "backup", "ssm", "logs")


def app_role_name(spec: TenantSpec) -> str:
    """The app server's role (fixed, so the key policy can name it before the role exists)."""
    return f"tenant-{spec.instance_id}-app"


def backup_role_name(spec: TenantSpec) -> str:
    """AWS Backup's role in the tenant's account."""
    return f"tenant-{spec.instance_id}-backup"


def db_bootstrap_role_name(spec: TenantSpec) -> str:
    """The database bootstrap function's role: reads the master secret through Secrets Manager."""
    return f"tenant-{spec.instance_id}-db-bootstrap"


def log_group_arns(spec: TenantSpec, region: str, account: str) -> list[str]:
    """The tenant's log groups, as CloudWatch Logs names them in the encryption context."""
    from stacks.components.observability import db_identifier, waf_log_group_name

    base = f"arn:aws:logs:{region}:{account}:log-group:"
    return [
        f"{base}/tenant/{spec.instance_id}/*",
        f"{base}/aws/rds/instance/{db_identifier(spec)}/*",
        f"{base}{waf_log_group_name(spec)}",
    ]


def _via(services: Sequence[str], region: str) -> dict[str, Any]:
    return {"StringEquals": {"kms:ViaService": [f"{s}.{region}.amazonaws.com" for s in services]}}


def _principal_is(role_arns: Sequence[str]) -> dict[str, Any]:
    """Statements name roles of the account by condition: KMS refuses a policy naming a role
    that does not exist yet, and the tenant's roles are created after its key."""
    return {"ArnEquals": {"aws:PrincipalArn": list(role_arns)}}


def _administers(sid: str, account: str, admin_role_arn: str) -> dict[str, Any]:
    """Key administration (never use of the key for data) for one named role of `account`."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": list(KEY_ADMIN_ACTIONS),
        "Resource": "*",
        "Condition": _principal_is([admin_role_arn]),
    }


def _roles_use(sid: str, account: str, roles: Sequence[str], via: dict[str, Any]
               ) -> dict[str, Any]:
    """Use of the key for data by named roles of `account`, only through AWS services."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": [*KEY_USE_ACTIONS, "kms:CreateGrant"],
        "Resource": "*",
        "Condition": {**_principal_is(roles), **via},
    }


def tenant_key_policy(spec: TenantSpec, account: str) -> str:
    """The tenant key's policy (see the module docstring)."""
    region = spec.region
    platform = catalogue().platform
    admin = platform.admin_role_arn(account)
    own_roles = [
        f"arn:aws:iam::{account}:role/{app_role_name(spec)}",
        f"arn:aws:iam::{account}:role/{backup_role_name(spec)}",
        f"arn:aws:iam::{account}:role/{db_bootstrap_role_name(spec)}",
        admin,
    ]
    backup_account = spec.location.backup.account_id
    statements: list[dict[str, Any]] = [
        _administers("PlatformAdministers", account, admin),
        _roles_use("TenantRolesUseThroughServices", account, own_roles,
                   _via(TENANT_KEY_SERVICES, region)),
        {
            "Sid": "CloudWatchLogsForTenantLogGroups",
            "Effect": "Allow",
            "Principal": {"Service": f"logs.{region}.amazonaws.com"},
            "Action": list(KEY_USE_ACTIONS),
            "Resource": "*",
            "Condition": {
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": log_group_arns(spec, region, account)
                }
            },
        },
        {
            # A cross-account copy is made by the destination account's AWS Backup, which reads
            # the source recovery point: only through AWS Backup, and nothing else.
            "Sid": "BackupAccountCopiesThroughBackup",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{backup_account}:root"},
            "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant"],
            "Resource": "*",
            "Condition": _via(("backup",), region),
        },
        {
            "Sid": "NoReplicaOutsideBackupRegion",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "kms:ReplicateKey",
            "Resource": "*",
            "Condition": {"StringNotEquals": {"kms:ReplicaRegion": spec.location.backup.region}},
        },
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)


def backup_key_policy(spec: TenantSpec) -> str:
    """The backup account's per-tenant key: administered by the backup account's platform role,
    used only by AWS Backup in that account. The tenant account is not named at all."""
    backup = spec.location.backup
    account = backup.account_id
    platform = catalogue().platform
    admin = platform.backup_role_arn(account)
    backup_service_role = (
        f"arn:aws:iam::{account}:role/aws-service-role/backup.amazonaws.com/AWSServiceRoleForBackup"
    )
    statements: list[dict[str, Any]] = [
        _administers("BackupAccountAdministers", account, admin),
        _roles_use("BackupServiceUses", account, [backup_service_role, admin],
                   _via(("backup",), backup.region)),
        {
            "Sid": "NoReplicas",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "kms:ReplicateKey",
            "Resource": "*",
        },
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)


def backup_account_provider(
    name: str, spec: TenantSpec, parent: pulumi.Resource
) -> aws.Provider:
    """The second, explicit AWS provider: the location's backup account, in its backup region."""
    backup = spec.location.backup
    return aws.Provider(
        name,
        region=backup.region,
        assume_roles=[
            {
                "role_arn": catalogue().platform.backup_role_arn(backup.account_id),
                "session_name": f"provisioner-tenant-{spec.instance_id}",
            }
        ],
        allowed_account_ids=[backup.account_id],
        default_tags={"tags": spec.tags()},
        opts=pulumi.ResourceOptions(parent=parent),
    )


class Keys(TenantPart):
    """The tenant key and its alias; the backup account's key for this tenant and its alias."""

    def __init__(
        self,
        name: str,
        spec: TenantSpec,
        account_id: pulumi.Input[str],
        backup_provider: aws.Provider,
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
            # Kept multi-region: changing it would replace the key (and lose every byte under
            # it); the policy denies replicas anywhere but the backup region.
            multi_region=True,
            deletion_window_in_days=KEY_DELETION_WINDOW_DAYS,
            policy=pulumi.Output.from_input(account_id).apply(
                lambda acct: tenant_key_policy(spec, acct)
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
        dest = spec.location.backup.region
        in_backup_account = self.child(provider=backup_provider)
        self.backup_key = aws.kms.Key(
            f"{name}-backup-key",
            description=(
                f"Tenant {spec.instance_id}: backup copies ({dest}), owned by the backup account"
            ),
            customer_master_key_spec="SYMMETRIC_DEFAULT",
            key_usage="ENCRYPT_DECRYPT",
            enable_key_rotation=True,
            rotation_period_in_days=KEY_ROTATION_PERIOD_DAYS,
            deletion_window_in_days=KEY_DELETION_WINDOW_DAYS,
            policy=backup_key_policy(spec),
            region=dest,
            tags=self.tags(Name=f"{alias_name}-backup", purpose="backup-copy"),
            opts=in_backup_account,
        )
        aws.kms.Alias(
            f"{name}-backup-alias",
            name=alias_name,
            target_key_id=self.backup_key.key_id,
            region=dest,
            opts=in_backup_account,
        )
        # Stacks from before the backup account keep the old replica until their old copies
        # have expired (stacks/components/legacy_backup.py).
        from stacks.components.legacy_backup import legacy_replica

        self.legacy_replica_arn = legacy_replica(self, name, spec, self.key, account_id)
        self.register_outputs({"key_arn": self.key.arn, "backup_key_arn": self.backup_key.arn})
