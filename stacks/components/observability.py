"""CloudWatch log groups, encrypted with the tenant key and kept per plan.

The database's log groups are created here, before the database, under the names RDS writes to
(`/aws/rds/instance/{identifier}/{log}`): left to RDS they would be created unencrypted and kept
forever. https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_LogAccess.Procedural.UploadtoCloudWatch.html
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from provisioner.spec import TenantSpec
from stacks.components.base import TenantPart

DB_LOG_EXPORTS = ("error", "general", "slowquery")  # MySQL logs RDS exports


def db_identifier(spec: TenantSpec) -> str:
    return f"{spec.resource_prefix}-db"


class Observability(TenantPart):
    """Log groups for the app, the VPC flow logs and the database exports."""

    def __init__(
        self,
        name: str,
        spec: TenantSpec,
        key_arn: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("Observability", name, spec, opts)
        retention = spec.plan.log_retention_days

        def group(suffix: str, log_name: str) -> aws.cloudwatch.LogGroup:
            return aws.cloudwatch.LogGroup(
                f"{name}-{suffix}",
                name=log_name,
                kms_key_id=key_arn,
                retention_in_days=retention,
                region=self.region,
                tags=self.tags(),
                opts=self.child(),
            )

        self.app = group("app", f"/tenant/{spec.instance_id}/app")
        self.flow_logs = group("flow-logs", f"/tenant/{spec.instance_id}/vpc-flow-logs")
        self.db_groups = [
            group(f"db-{log}", f"/aws/rds/instance/{db_identifier(spec)}/{log}")
            for log in DB_LOG_EXPORTS
        ]
        self.register_outputs({"app_log_group": self.app.name})
