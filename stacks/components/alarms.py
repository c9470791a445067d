"""The tenant's CloudWatch alarms, each notifying the regional alert topic.

The topic belongs to the regional platform stack (stacks/region), one per location, named
`provisioner-alerts`: every tenant of the region reports to it, and no tenant owns it. Alarms
are named `t-<slug>-<what>` so the live audit finds them by prefix.

The app's alarms (load balancer, targets, server status) are switched off by the same
`suspended` flag that stops the server, and on again on resume: a stopped server is not an
incident. The database and certificate alarms stay on: the data is still there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from provisioner.promises import TENANT_ALARMS, alert_topic_arn, ec2_recover_action
from provisioner.spec import TenantSpec
from stacks.components.base import TenantPart, assume_role_policy

ENHANCED_MONITORING_POLICY = (
    "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
)
_PERIOD = 300  # seconds
_MIB = 1024 * 1024
_GIB = 1024 * _MIB


@dataclass(frozen=True)
class Watched:
    """What the alarms watch: ids and ARN suffixes of the tenant's resources."""

    load_balancer: pulumi.Input[str]  # the load balancer's ARN suffix (app/name/id)
    target_group: pulumi.Input[str]  # the target group's ARN suffix
    instance_id: pulumi.Input[str]
    db_identifier: str
    certificate_arn: pulumi.Input[str]


class EnhancedMonitoring(TenantPart):
    """The role RDS enhanced monitoring uses to publish OS metrics (RDS.6)."""

    def __init__(self, name: str, spec: TenantSpec, opts: pulumi.ResourceOptions | None = None):
        super().__init__("EnhancedMonitoring", name, spec, opts)
        self.role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=assume_role_policy("monitoring.rds.amazonaws.com"),
            tags=self.tags(),
            opts=self.child(),
        )
        aws.iam.RolePolicyAttachment(
            f"{name}-policy",
            role=self.role.name,
            policy_arn=ENHANCED_MONITORING_POLICY,
            opts=self.child(),
        )
        self.register_outputs({"role_arn": self.role.arn})


class Alarms(TenantPart):
    """Load balancer 5xx rate and unhealthy targets, server status (with EC2 auto recovery),
    database CPU, free storage, free memory and connections, certificate days to expiry."""

    def __init__(
        self,
        name: str,
        spec: TenantSpec,
        watched: Watched,
        account_id: pulumi.Input[str],
        suspended: bool = False,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("Alarms", name, spec, opts)
        limits = spec.plan.alarms
        topic = pulumi.Output.from_input(account_id).apply(
            lambda account: alert_topic_arn(spec.region, account)
        )
        prefix = f"t-{spec.instance_id}"
        self.alarms: dict[str, aws.cloudwatch.MetricAlarm] = {}

        def alarm(what: str, app: bool, description: str, extra_actions: tuple[str, ...] = (),
                  **args: Any) -> None:
            self.alarms[what] = aws.cloudwatch.MetricAlarm(
                f"{name}-{what}",
                name=f"{prefix}-{what}",
                alarm_description=f"Tenant {spec.instance_id}: {description}",
                actions_enabled=not (app and suspended),
                alarm_actions=[topic, *extra_actions],
                ok_actions=[topic],
                region=self.region,
                tags=self.tags(),
                opts=self.child(),
                **args,
            )

        lb = {"LoadBalancer": watched.load_balancer}
        alarm(
            "lb-5xx-rate", True, f"more than {limits.lb_5xx_percent}% of requests answered 5xx",
            comparison_operator="GreaterThanThreshold",
            threshold=limits.lb_5xx_percent,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            treat_missing_data="notBreaching",  # no traffic is not an error
            metric_queries=[
                {"id": "rate", "label": "5xx %", "return_data": True,
                 "expression": "100 * (FILL(elb, 0) + FILL(target, 0)) / MAX([requests, 1])"},
                *[
                    {"id": qid, "metric": {"namespace": "AWS/ApplicationELB", "metric_name": metric,
                                           "dimensions": lb, "period": _PERIOD, "stat": "Sum"}}
                    for qid, metric in (("elb", "HTTPCode_ELB_5XX_Count"),
                                        ("target", "HTTPCode_Target_5XX_Count"),
                                        ("requests", "RequestCount"))
                ],
            ],
        )  # fmt: skip
        alarm(
            "unhealthy-targets", True, "the app server fails the load balancer's health check",
            namespace="AWS/ApplicationELB", metric_name="UnHealthyHostCount",
            dimensions={**lb, "TargetGroup": watched.target_group},
            statistic="Maximum", period=60, evaluation_periods=3,
            comparison_operator="GreaterThanThreshold", threshold=0,
            treat_missing_data="breaching",  # no data: the target group is gone
        )
        server = {"InstanceId": watched.instance_id}
        alarm(
            "server-system-status", True,
            "the host under the app server failed: EC2 moves it to healthy hardware",
            (ec2_recover_action(spec.region),),
            namespace="AWS/EC2", metric_name="StatusCheckFailed_System", dimensions=server,
            statistic="Maximum", period=60, evaluation_periods=2,
            comparison_operator="GreaterThanThreshold", threshold=0,
        )
        alarm(
            "server-instance-status", True, "the app server's operating system stopped answering",
            namespace="AWS/EC2", metric_name="StatusCheckFailed_Instance", dimensions=server,
            statistic="Maximum", period=60, evaluation_periods=3,
            comparison_operator="GreaterThanThreshold", threshold=0,
        )
        db = {"DBInstanceIdentifier": watched.db_identifier}
        storage_bytes = spec.plan.db_storage_gib * _GIB * limits.db_free_storage_percent / 100
        for what, metric, op, threshold, description in (
            ("db-cpu", "CPUUtilization", "GreaterThanThreshold", limits.db_cpu_percent,
             f"database CPU above {limits.db_cpu_percent}%"),
            ("db-free-storage", "FreeStorageSpace", "LessThanThreshold", storage_bytes,
             f"database free storage below {limits.db_free_storage_percent}% of allocated"),
            ("db-free-memory", "FreeableMemory", "LessThanThreshold",
             limits.db_free_memory_mib * _MIB,
             f"database freeable memory below {limits.db_free_memory_mib} MiB"),
            ("db-connections", "DatabaseConnections", "GreaterThanThreshold",
             limits.db_connections, f"more than {limits.db_connections} database connections"),
        ):
            alarm(what, False, description, namespace="AWS/RDS", metric_name=metric,
                  dimensions=db, statistic="Average", period=_PERIOD, evaluation_periods=3,
                  comparison_operator=op, threshold=threshold)
        alarm(
            "certificate-expiry", False,
            f"certificate expires in under {limits.certificate_days} days (renewal failed)",
            namespace="AWS/CertificateManager", metric_name="DaysToExpiry",
            dimensions={"CertificateArn": watched.certificate_arn},
            statistic="Minimum", period=86400, evaluation_periods=1,
            comparison_operator="LessThanThreshold", threshold=limits.certificate_days,
        )
        assert tuple(self.alarms) == TENANT_ALARMS, "the live audit looks for these names"
        self.register_outputs({"alarms": [a.name for a in self.alarms.values()]})
