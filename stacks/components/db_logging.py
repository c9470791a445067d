"""What makes the database's exported log groups fill: the general, slow-query and audit logs.

RDS exports only what MySQL writes to files: `general_log` and `slow_query_log` are off by
default, and the audit log exists only with the MariaDB Audit Plugin, which RDS for MySQL
installs through an option group (`MARIADB_AUDIT_PLUGIN`). `log_output=FILE` is what RDS
publishes to CloudWatch Logs (a TABLE log is never exported).
https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_LogAccess.MySQL.LogFileSize.html
https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Appendix.MySQL.Options.AuditPlugin.html
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from provisioner.promises import DB_AUDIT_EVENTS, DB_AUDIT_PLUGIN
from provisioner.spec import TenantSpec

LONG_QUERY_SECONDS = "2"  # a query slower than this is a slow query worth a line

# Dynamic parameters: applied without a reboot.
LOG_PARAMETERS: list[aws.rds.ParameterGroupParameterArgsDict] = [
    {"name": "general_log", "value": "1"},
    {"name": "slow_query_log", "value": "1"},
    {"name": "long_query_time", "value": LONG_QUERY_SECONDS},
    {"name": "log_output", "value": "FILE"},
]


def audit_option_group(
    name: str,
    spec: TenantSpec,
    engine_version: str,
    tags: dict[str, str],
    opts: pulumi.ResourceOptions,
) -> aws.rds.OptionGroup:
    """The option group that installs the audit plugin: logins (CONNECT) and schema and
    privilege changes (QUERY_DDL, QUERY_DCL), rotated by RDS and exported as `audit`.

    `engine_version` is the database's own (database.ENGINE_VERSION), so the option group
    follows an engine upgrade from the one constant that names it."""
    return aws.rds.OptionGroup(
        name,
        engine_name="mysql",
        major_engine_version=".".join(engine_version.split(".")[:2]),  # "8.4.5" -> "8.4"
        option_group_description=f"Tenant {spec.instance_id}: audit log (logins, DDL, DCL)",
        options=[
            {
                "option_name": DB_AUDIT_PLUGIN,
                "option_settings": [
                    {"name": "SERVER_AUDIT_EVENTS", "value": ",".join(DB_AUDIT_EVENTS)},
                    {"name": "SERVER_AUDIT_EXCL_USERS", "value": "rdsadmin"},
                ],
            }
        ],
        region=spec.region,
        tags=tags,
        opts=opts,
    )
