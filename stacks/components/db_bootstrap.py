"""The database bootstrap: a function that creates the application's MySQL user, run once per
database.

RDS creates only the master user. The app connects as `APP_DB_USER` with IAM database
authentication, and that user must exist in MySQL with the IAM plugin, TLS required and grants on
the app's schema only (stacks/db_bootstrap/app_user.py says exactly what it runs and checks). Only
the master user can create it, and the master secret is for the platform only: the app server's
role cannot read it. So the stack runs a small AWS Lambda function in the tenant's private
subnets, invoked by the deployment itself (`aws.lambda_.Invocation`) when the database is created
or replaced or the function's code changes:
- its role reads exactly one secret (the database's RDS-managed master secret, decrypted through
  Secrets Manager with the tenant key), writes only its own log group, and manages only its own
  network interfaces;
- its security group reaches the database (3306) and HTTPS (Secrets Manager through the NAT
  gateway, as the app server does: the stack has no interface endpoints, see EC2.10 in the
  README's accepted exceptions), nothing else, and nothing can reach it;
- it has no function URL and no resource policy: only the deployment's own credentials invoke it;
- its code ships from this repository (with pymysql, a pure-Python MySQL driver, packaged from
  where it is installed), as text assets, so a plan records their digest and a code change shows
  as an update that re-runs the bootstrap (idempotent).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import importlib.util
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from provisioner.spec import TenantSpec
from stacks.components.base import TenantPart, assume_role_policy
from stacks.components.database import APP_DB_USER, APP_SCHEMA
from stacks.components.keys import db_bootstrap_role_name
from stacks.components.network import DB_PORT
from stacks.components.observability import tenant_log_group_name

CODE_DIR = Path(__file__).resolve().parent.parent / "db_bootstrap"
# The RDS certificate authorities, when the repository carries them: shipped beside the handler,
# which verifies the server's certificate against them (stacks/db_bootstrap/handler.py CA_BUNDLE).
CA_BUNDLE_FILE = "rds-ca-bundle.pem"
HANDLER = "db_bootstrap.handler.handler"
RUNTIME = "python3.12"
TIMEOUT_SECONDS = 60
MEMORY_MB = 256
LOG_KIND = "db-bootstrap"
# Lambda's execution role creates and removes the function's network interfaces in the VPC
# (Lambda developer guide, "Giving Lambda functions access to resources in an Amazon VPC").
ENI_ACTIONS = (
    "ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses",
)  # fmt: skip
ENI_DESCRIBE_ACTIONS = ("ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets")


def function_name(spec: TenantSpec) -> str:
    return f"{spec.resource_prefix}-db-bootstrap"


def _package_files() -> dict[str, str]:
    """Archive path -> text: the bootstrap package (with the RDS CA bundle when the repository
    carries it) and pymysql, sorted."""
    files = {f"db_bootstrap/{p.name}": p.read_text() for p in sorted(CODE_DIR.glob("*.py"))}
    if (CODE_DIR / CA_BUNDLE_FILE).is_file():
        files[f"db_bootstrap/{CA_BUNDLE_FILE}"] = (CODE_DIR / CA_BUNDLE_FILE).read_text()
    found = importlib.util.find_spec("pymysql")
    if found is None or not found.submodule_search_locations:
        raise RuntimeError("pymysql is not installed: the database bootstrap function needs it"
                           " (pip install pymysql)")
    root = Path(next(iter(found.submodule_search_locations)))
    for path in sorted(root.rglob("*.py")):
        files[f"pymysql/{path.relative_to(root).as_posix()}"] = path.read_text()
    return files


@functools.lru_cache(maxsize=1)
def function_code() -> tuple[dict[str, str], str]:
    """The function's files and their digest (base64 SHA-256 over names and contents): read
    once per process, the same on every machine with the same pymysql."""
    files = _package_files()
    digest = hashlib.sha256()
    for name, text in files.items():
        digest.update(name.encode() + b"\0" + text.encode() + b"\0")
    return files, base64.b64encode(digest.digest()).decode()


def verifies_server_certificate(files: dict[str, str]) -> bool:
    """Whether the packaged function can authenticate the database (it carries the CA bundle)."""
    return f"db_bootstrap/{CA_BUNDLE_FILE}" in files


def function_description(spec: TenantSpec, files: dict[str, str]) -> str:
    """Says in the plan (and the console) whether the bootstrap's TLS connection is
    authenticated, which is otherwise visible only in the invocation's result after a deploy."""
    tls = ("server certificate verified against the RDS CA bundle"
           if verifies_server_certificate(files)
           else f"server certificate NOT verified: no {CA_BUNDLE_FILE} in the package")
    return f"Tenant {spec.instance_id}: creates the app's IAM-authenticated MySQL user ({tls})"


def role_policy(
    spec: TenantSpec, account: str, key_arn: str, secret_arn: str, subnet_ids: Sequence[str],
    security_group_id: str,
) -> str:
    region = spec.region
    group = f"arn:aws:logs:{region}:{account}:log-group:{tenant_log_group_name(spec, LOG_KIND)}"
    ec2 = f"arn:aws:ec2:{region}:{account}"
    statements: list[dict[str, Any]] = [
        {"Sid": "ReadMasterSecret", "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
         "Resource": [secret_arn]},
        {"Sid": "DecryptMasterSecret", "Effect": "Allow", "Action": ["kms:Decrypt"],
         "Resource": [key_arn],
         "Condition": {"StringEquals": {
             "kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}}},
        {"Sid": "OwnLogGroup", "Effect": "Allow",
         "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": [group, f"{group}:log-stream:*"]},
        {"Sid": "OwnNetworkInterfaces", "Effect": "Allow", "Action": list(ENI_ACTIONS),
         "Resource": sorted([f"{ec2}:network-interface/*", f"{ec2}:security-group/"
                             f"{security_group_id}", *(f"{ec2}:subnet/{s}" for s in subnet_ids)])},
        # Describe calls support no resource-level permissions (Service Authorization Reference).
        {"Sid": "DescribeNetwork", "Effect": "Allow", "Action": list(ENI_DESCRIBE_ACTIONS),
         "Resource": "*"},
    ]  # fmt: skip
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)


class DatabaseBootstrap(TenantPart):
    """Log group, role, function and its one invocation per database."""

    def __init__(
        self,
        name: str,
        spec: TenantSpec,
        key_arn: pulumi.Input[str],
        subnet_ids: Sequence[pulumi.Input[str]],
        security_group_id: pulumi.Input[str],
        database: aws.rds.Instance,
        account_id: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("DatabaseBootstrap", name, spec, opts)
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=tenant_log_group_name(spec, LOG_KIND),
            kms_key_id=key_arn,
            retention_in_days=spec.plan.log_retention_days,
            region=self.region,
            tags=self.tags(),
            opts=self.child(),
        )
        role = aws.iam.Role(
            f"{name}-role",
            name=db_bootstrap_role_name(spec),
            assume_role_policy=assume_role_policy("lambda.amazonaws.com"),
            tags=self.tags(),
            opts=self.child(),
        )
        secret_arn = database.master_user_secrets.apply(lambda s: s[0].secret_arn)
        grants = aws.iam.RolePolicy(
            f"{name}-policy",
            role=role.id,
            policy=pulumi.Output.all(
                account_id, key_arn, secret_arn, security_group_id, *subnet_ids
            ).apply(lambda v: role_policy(spec, v[0], v[1], v[2], v[4:], v[3])),
            opts=self.child(),
        )
        files, code_hash = function_code()
        function = aws.lambda_.Function(
            f"{name}-function",
            name=function_name(spec),
            description=function_description(spec, files),
            role=role.arn,
            runtime=RUNTIME,
            architectures=["arm64"],
            handler=HANDLER,
            code=pulumi.AssetArchive({n: pulumi.StringAsset(t) for n, t in files.items()}),
            source_code_hash=code_hash,
            timeout=TIMEOUT_SECONDS,
            memory_size=MEMORY_MB,
            reserved_concurrent_executions=1,
            kms_key_arn=key_arn,
            vpc_config={"subnet_ids": list(subnet_ids),
                        "security_group_ids": [security_group_id]},
            logging_config={"log_format": "JSON", "log_group": log_group.name},
            region=self.region,
            tags=self.tags(),
            opts=self.child(depends_on=[grants, log_group]),
        )
        event = pulumi.Output.all(database.address, secret_arn).apply(
            lambda v: json.dumps({"host": v[0], "port": DB_PORT, "secret_arn": v[1],
                                  "user": APP_DB_USER, "schema": APP_SCHEMA}, sort_keys=True)
        )
        self.invocation = aws.lambda_.Invocation(
            f"{name}-run",
            function_name=function.name,
            input=event,
            # Run again for a new database (a replacement) or new code; both are idempotent.
            triggers={"database": database.resource_id, "code": code_hash},
            region=self.region,
            opts=self.child(),
        )
        self.register_outputs({"function": function.name})
