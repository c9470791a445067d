"""The tenant's MySQL 8.4 (LTS) database: encrypted with the tenant key, private, TLS required.

The master password is generated and kept by RDS in Secrets Manager under the tenant key
(`manage_master_user_password`): no password exists in code, config or Pulumi state, and only
the platform reads it. The application connects as `APP_DB_USER` with IAM database
authentication (a 15-minute token from its instance role, no password at all); the database
bootstrap function (stacks/components/db_bootstrap.py) creates that user in MySQL.

Minor versions are upgraded automatically in a weekly maintenance window of the tenant's own:
windows are spread over the week by a hash of the tenant's name, so a region's tenants are not
all restarted at once (`maintenance_window`).
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from provisioner.spec import TenantSpec
from stacks.components.base import TenantPart
from stacks.components.db_logging import LOG_PARAMETERS, audit_option_group
from stacks.components.observability import DB_LOG_EXPORTS, db_identifier
from stacks.windows import database_window

# 8.4 is MySQL's LTS line; RDS standard support for 8.0 ended on 31 July 2026.
ENGINE_VERSION = "8.4"
PARAMETER_FAMILY = "mysql8.4"
BACKUP_WINDOW = "02:00-02:30"  # UTC, before AWS Backup's daily 03:00 job
CA_CERTIFICATE = "rds-ca-rsa2048-g1"
APP_DB_USER = "crm_app"  # the application's user: IAM-authenticated, least privilege
APP_SCHEMA = "crm"  # the one schema the app user may use (created by RDS: `db_name`)


def maintenance_window(spec: TenantSpec) -> str:
    """The tenant's weekly maintenance window (`ddd:hh:mm-ddd:hh:mm`, UTC).

    A stable hash of the tenant's instance id and region picks one of the 28 slots, so tenants of a
    region spread evenly over the week and a tenant's window never moves."""
    return database_window(spec.region, spec.instance_id)


def app_user_arn(region: str, account: str, resource_id: str) -> str:
    """What `rds-db:connect` names: the app user of this database only."""
    return f"arn:aws:rds-db:{region}:{account}:dbuser:{resource_id}/{APP_DB_USER}"


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
        monitoring_role_arn: pulumi.Input[str] | None = None,
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
        if spec.legacy_backup:
            _keep_mysql80_group(f"{name}-params", spec, self.tags(), self.child())
        # A parameter group's family cannot change in place, and a group cannot be deleted
        # while a database is its member (InvalidDBParameterGroupState). So the 8.4 group is
        # a resource of its own under a new logical name: Pulumi auto-names it
        # (`database-params-mysql84-<random>`), a physical name distinct from the 8.0 group's,
        # and creates it next to the old one instead of replacing it. The instance moves to it
        # with the engine upgrade, in the tenant's maintenance window.
        params = aws.rds.ParameterGroup(
            f"{name}-params-mysql84",
            family=PARAMETER_FAMILY,
            description=f"Tenant {spec.instance_id}: TLS required",
            parameters=[
                {"name": "require_secure_transport", "value": "1"},
                {
                    "name": "tls_version",
                    "value": "TLSv1.2,TLSv1.3",
                    "apply_method": "pending-reboot",  # a static parameter
                },
                *LOG_PARAMETERS,  # general, slow-query logs to files RDS exports
            ],
            region=self.region,
            tags=self.tags(),
            opts=self.child(),
        )
        identifier = db_identifier(spec)
        audit = audit_option_group(
            f"{name}-audit", spec, ENGINE_VERSION, self.tags(), self.child()
        )
        self.instance = aws.rds.Instance(
            f"{name}-instance",
            identifier=identifier,
            engine="mysql",
            engine_version=ENGINE_VERSION,
            # Moving an existing 8.0 tenant to 8.4 is a major upgrade, applied in its window.
            allow_major_version_upgrade=True,
            instance_class=plan.db_instance_class,
            allocated_storage=plan.db_storage_gib,
            max_allocated_storage=plan.db_max_storage_gib,
            storage_type="gp3",
            storage_encrypted=True,
            kms_key_id=key_arn,
            db_name=APP_SCHEMA,
            username="crm_admin",
            manage_master_user_password=True,
            master_user_secret_kms_key_id=key_arn,
            parameter_group_name=params.name,
            option_group_name=audit.name,
            monitoring_interval=plan.db_monitoring_seconds if monitoring_role_arn else 0,
            monitoring_role_arn=monitoring_role_arn,
            db_subnet_group_name=subnets.name,
            vpc_security_group_ids=[security_group_id],
            publicly_accessible=False,
            multi_az=plan.multi_az,
            ca_cert_identifier=CA_CERTIFICATE,
            iam_database_authentication_enabled=True,
            backup_retention_period=plan.backup_retention_days,
            backup_window=BACKUP_WINDOW,
            maintenance_window=maintenance_window(spec),
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


def _keep_mysql80_group(name: str, spec: TenantSpec, tags: dict[str, str],
                        opts: pulumi.ResourceOptions) -> aws.rds.ParameterGroup:
    """The MySQL 8.0 parameter group of a stack built before the 8.4 upgrade, kept exactly as
    that program made it (so the update changes nothing about it).

    `allow_major_version_upgrade` without `apply_immediately` makes RDS upgrade the engine and
    switch parameter groups in the tenant's weekly maintenance window, after the update: until
    then the database is still a member of the 8.0 group, and deleting that group in the same
    update would fail. The flag that marks such a stack (`legacy_backup`, set by migration
    0009 for every stack built before the backup account, i.e. by the same older program) is
    cleared at least the plan's backup retention + 1 day (8 days or more) after the first
    update, so the weekly window has run and the group is unused when the next update deletes it.
    """
    return aws.rds.ParameterGroup(
        name,
        family="mysql8.0",
        description=f"Tenant {spec.instance_id}: TLS required",
        parameters=[
            {"name": "require_secure_transport", "value": "1"},
            {"name": "tls_version", "value": "TLSv1.2,TLSv1.3", "apply_method": "pending-reboot"},
        ],
        region=spec.region,
        tags=tags,
        opts=opts,
    )
