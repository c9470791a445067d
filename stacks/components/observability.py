"""CloudWatch log groups, encrypted with the tenant key and kept per plan.

The database's log groups are created here, before the database, under the names RDS writes to
(`/aws/rds/instance/{identifier}/{log}`): left to RDS they would be created unencrypted and kept
forever. https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_LogAccess.Procedural.UploadtoCloudWatch.html
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

# Security logs (SECURITY_*_LOGS), kept at least a year (PlanSizes.security_log_retention_days):
# who logged in to the database and what they changed, network flows, operators' sessions.
from provisioner.promises import (
    AGENT_LOG_KINDS,
    SECURITY_DB_LOGS,
    SECURITY_TENANT_LOGS,
    tenant_log_group,
)
from provisioner.spec import TenantSpec
from stacks.components.base import TenantPart

DB_LOG_EXPORTS = ("error", "general", "slowquery", "audit")  # MySQL logs RDS exports


def db_identifier(spec: TenantSpec) -> str:
    return f"{spec.resource_prefix}-db"


def tenant_log_group_name(spec: TenantSpec, kind: str) -> str:
    """`/tenant/<instance id>/<kind>`: the app server's role may write to this prefix only."""
    return tenant_log_group(spec.instance_id, kind)


def waf_log_group_name(spec: TenantSpec) -> str:
    """WAF delivers only to log groups named `aws-waf-logs-...` (AWS WAF API reference,
    LoggingConfiguration), so this one cannot live under `/tenant/<instance id>/`."""
    return f"aws-waf-logs-tenant-{spec.instance_id}"


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
        # Deleting the tenant deletes every group with the stack (no skip_destroy): security logs
        # are kept a year, or until the tenant's data is deleted, whichever comes first.

        def group(suffix: str, log_name: str, security: bool = False) -> aws.cloudwatch.LogGroup:
            plan = spec.plan
            return aws.cloudwatch.LogGroup(
                f"{name}-{suffix}",
                name=log_name,
                kms_key_id=key_arn,
                retention_in_days=plan.security_log_retention_days if security
                else plan.log_retention_days,
                region=self.region,
                tags=self.tags(),
                opts=self.child(),
            )

        # What the app server's CloudWatch agent writes (templates/user_data.sh.j2). The app's
        # group keeps its historical logical name ("app") so existing stacks keep it.
        self.agent_groups = {
            kind: group(kind, tenant_log_group_name(spec, kind), kind in SECURITY_TENANT_LOGS)
            for kind in AGENT_LOG_KINDS
        }
        self.app = self.agent_groups["app"]
        self.ssm_sessions = self.agent_groups["ssm-sessions"]  # SSM session transcripts
        self.flow_logs = group("flow-logs", tenant_log_group_name(spec, "vpc-flow-logs"),
                               "vpc-flow-logs" in SECURITY_TENANT_LOGS)
        self.waf = group("waf", waf_log_group_name(spec), security=True)  # blocked requests
        self.db_groups = [
            group(f"db-{log}", f"/aws/rds/instance/{db_identifier(spec)}/{log}",
                  log in SECURITY_DB_LOGS)
            for log in DB_LOG_EXPORTS
        ]
        self.register_outputs({"app_log_group": self.app.name})
