"""The tenant's MySQL 8 database: encrypted with the tenant key, private, TLS required.

The master password is generated and kept by RDS in Secrets Manager under the tenant key
(`manage_master_user_password`): no password exists in code, config or Pulumi state.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from provisioner.spec import TenantSpec
from stacks.components.base import TenantPart
from stacks.components.observability import DB_LOG_EXPORTS, db_identifier

ENGINE_VERSION = "8.0"
PARAMETER_FAMILY = "mysql8.0"
BACKUP_WINDOW = "02:00-02:30"  # UTC, before AWS Backup's daily 03:00 job
MAINTENANCE_WINDOW = "sun:04:00-sun:04:30"
CA_CERTIFICATE = "rds-ca-rsa2048-g1"


class Database(TenantPart):
    """Subnet group, TLS-only parameter group, and the RDS instance."""

    def __init__(
        self,
        name: str,
        spec: TenantSpec,
        key_arn: pulumi.Input[str],
        subnet_ids: Sequence[pulumi.Input[str]],
        security_group_id: pulumi.Input[str],
        log_groups: Sequence[pulumi.Resource],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("Database", name, spec, opts)
        plan = spec.plan
        subnets = aws.rds.SubnetGroup(
            f"{name}-subnets",
            subnet_ids=list(subnet_ids),
            description=f"Tenant {spec.instance_id}: private subnets",
            region=self.region,
            tags=self.tags(),
            opts=self.child(),
        )
        params = aws.rds.ParameterGroup(
            f"{name}-params",
            family=PARAMETER_FAMILY,
            description=f"Tenant {spec.instance_id}: TLS required",
            parameters=[
                {"name": "require_secure_transport", "value": "1"},
                {
                    "name": "tls_version",
                    "value": "TLSv1.2,TLSv1.3",
                    "apply_method": "pending-reboot",  # a static parameter
                },
            ],
            region=self.region,
            tags=self.tags(),
            opts=self.child(),
        )
        identifier = db_identifier(spec)
        self.instance = aws.rds.Instance(
            f"{name}-instance",
            identifier=identifier,
            engine="mysql",
            engine_version=ENGINE_VERSION,
            instance_class=plan.db_instance_class,
            allocated_storage=plan.db_storage_gib,
            max_allocated_storage=plan.db_max_storage_gib,
            storage_type="gp3",
            storage_encrypted=True,
            kms_key_id=key_arn,
            db_name="crm",
            username="crm_admin",
            manage_master_user_password=True,
            master_user_secret_kms_key_id=key_arn,
            parameter_group_name=params.name,
            db_subnet_group_name=subnets.name,
            vpc_security_group_ids=[security_group_id],
            publicly_accessible=False,
            multi_az=plan.multi_az,
            ca_cert_identifier=CA_CERTIFICATE,
            iam_database_authentication_enabled=True,
            backup_retention_period=plan.backup_retention_days,
            backup_window=BACKUP_WINDOW,
            maintenance_window=MAINTENANCE_WINDOW,
            copy_tags_to_snapshot=True,
            delete_automated_backups=True,  # deleting a tenant deletes its data
            deletion_protection=plan.deletion_protection,
            skip_final_snapshot=not plan.paid,
            final_snapshot_identifier=f"{identifier}-final" if plan.paid else None,
            enabled_cloudwatch_logs_exports=list(DB_LOG_EXPORTS),
            performance_insights_enabled=plan.performance_insights,
            performance_insights_kms_key_id=key_arn if plan.performance_insights else None,
            auto_minor_version_upgrade=True,
            region=self.region,
            tags=self.tags(Name=identifier),
            opts=self.child(depends_on=list(log_groups)),
        )
        self.register_outputs({"endpoint": self.instance.address})
