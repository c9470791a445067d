"""Data at rest and the database: volumes, database instances, log groups.

Volumes are found two ways: tagged for the tenant, or attached to one of the tenant's
instances (a root volume created from a launch template is not always tagged).
"""

from __future__ import annotations

from typing import Any

from provisioner.audit.context import Context

TLS_PARAMETER = "require_secure_transport"  # MySQL 8: refuse unencrypted connections


def _volume_arn(ctx: Context, region: str, volume_id: str) -> str:
    return f"arn:aws:ec2:{region}:{ctx.report.account}:volume/{volume_id}"


def tenant_volumes(ctx: Context, region: str | None = None) -> list[dict[str, Any]]:
    """The tenant's EBS volumes in `region`: tagged, or attached to a tagged instance."""
    where = region or ctx.target.region
    ec2: Any = ctx.client("ec2", where)
    volumes: dict[str, dict[str, Any]] = {}
    pages = ec2.get_paginator("describe_volumes").paginate(
        Filters=[{"Name": "tag:tenant", "Values": [ctx.target.slug]}]
    )
    for page in pages:
        volumes.update({v["VolumeId"]: v for v in page["Volumes"]})
    instance_ids = (
        [r.resource_id for r in ctx.of_kind("ec2:instance")] if where == ctx.target.region else []
    )
    if instance_ids:
        pages = ec2.get_paginator("describe_volumes").paginate(
            Filters=[{"Name": "attachment.instance-id", "Values": instance_ids}]
        )
        for page in pages:
            volumes.update({v["VolumeId"]: v for v in page["Volumes"]})
    return [volumes[k] for k in sorted(volumes)]


def check_volumes(ctx: Context) -> None:
    for volume in tenant_volumes(ctx):
        arn = _volume_arn(ctx, ctx.target.region, volume["VolumeId"])
        rule = "ebs.encrypted-with-tenant-key"
        if not volume.get("Encrypted"):
            ctx.report.fail("at-rest", rule, arn, ctx.target.region, "volume is not encrypted")
        elif not ctx.is_tenant_key(volume.get("KmsKeyId")):
            ctx.report.fail(
                "at-rest",
                rule,
                arn,
                ctx.target.region,
                f"volume is encrypted with {volume.get('KmsKeyId')}, not the tenant key"
                f" {ctx.expected_key()}",
            )
        else:
            ctx.report.check(rule, arn)


def parameter_value(ctx: Context, group: str, name: str, region: str | None = None) -> str | None:
    """The value a DB parameter group sets for `name` (None when it is left at the default)."""
    rds: Any = ctx.client("rds", region)
    for page in rds.get_paginator("describe_db_parameters").paginate(DBParameterGroupName=group):
        for param in page["Parameters"]:
            if param.get("ParameterName") == name:
                return param.get("ParameterValue")
    return None


def check_db_instance(ctx: Context, db: dict[str, Any], region: str | None = None) -> None:
    """Encrypted with the tenant key, not public, TLS required by its parameter group."""
    where = region or ctx.target.region
    arn = db["DBInstanceArn"]
    report = ctx.report
    if not db.get("StorageEncrypted"):
        report.fail("at-rest", "rds.encrypted-with-tenant-key", arn, where, "storage not encrypted")
    elif not ctx.is_tenant_key(db.get("KmsKeyId")):
        report.fail(
            "at-rest",
            "rds.encrypted-with-tenant-key",
            arn,
            where,
            f"storage encrypted with {db.get('KmsKeyId')}, not the tenant key {ctx.expected_key()}",
        )
    else:
        report.check("rds.encrypted-with-tenant-key", arn)
    if db.get("PubliclyAccessible"):
        report.fail(
            "isolation",
            "rds.not-public",
            arn,
            where,
            "database is publicly accessible: set PubliclyAccessible=false",
        )
    else:
        report.check("rds.not-public", arn)
    exports = sorted(db.get("EnabledCloudwatchLogsExports") or [])
    if "error" in exports:
        report.check("rds.log-exports", arn)
    else:
        report.fail(
            "logging",
            "rds.log-exports",
            arn,
            where,
            f"database logs exported to CloudWatch: {exports or 'none'}; the error log at least",
        )
    groups = [g["DBParameterGroupName"] for g in db.get("DBParameterGroups", [])]
    values = {g: parameter_value(ctx, g, TLS_PARAMETER, where) for g in groups}
    if groups and all(str(v).strip().upper() in {"1", "ON", "TRUE"} for v in values.values()):
        report.check("rds.require-tls", arn)
    else:
        shown = ", ".join(f"{g}: {v}" for g, v in sorted(values.items())) or "no parameter group"
        report.fail(
            "in-transit",
            "rds.require-tls",
            arn,
            where,
            f"{TLS_PARAMETER} is not 1 ({shown}): clients may connect without TLS",
        )


def check_databases(ctx: Context) -> None:
    rds: Any = ctx.client("rds")
    for resource in ctx.of_kind("rds:db"):
        answer = rds.describe_db_instances(DBInstanceIdentifier=resource.resource_id)
        for db in answer["DBInstances"]:
            check_db_instance(ctx, db)


def check_log_groups(ctx: Context) -> None:
    logs: Any = ctx.client("logs")
    for resource in ctx.of_kind("logs:log-group"):
        name = resource.resource_id
        arn = resource.arn.removesuffix(":*")
        groups = [
            g
            for page in logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=name)
            for g in page["logGroups"]
            if g["logGroupName"] == name
        ]
        for group in groups:
            key = group.get("kmsKeyId")
            if not key:
                ctx.report.fail(
                    "logging",
                    "logs.encrypted-with-tenant-key",
                    arn,
                    ctx.target.region,
                    "log group is not encrypted with a KMS key",
                )
            elif not ctx.is_tenant_key(key):
                ctx.report.fail(
                    "logging",
                    "logs.encrypted-with-tenant-key",
                    arn,
                    ctx.target.region,
                    f"log group encrypted with {key}, not the tenant key {ctx.expected_key()}",
                )
            else:
                ctx.report.check("logs.encrypted-with-tenant-key", arn)


def check_flow_logs(ctx: Context) -> None:
    """Every tenant VPC has an active flow log (the network half of the logging promise)."""
    ec2: Any = ctx.client("ec2")
    for vpc in ctx.of_kind("ec2:vpc"):
        logs = ec2.describe_flow_logs(
            Filters=[{"Name": "resource-id", "Values": [vpc.resource_id]}]
        ).get("FlowLogs", [])
        if any(f.get("FlowLogStatus", "ACTIVE") == "ACTIVE" for f in logs):
            ctx.report.check("vpc.flow-logs", vpc.arn)
        else:
            ctx.report.fail(
                "logging", "vpc.flow-logs", vpc.arn, ctx.target.region, "the VPC has no flow log"
            )
