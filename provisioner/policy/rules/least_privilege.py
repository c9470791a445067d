"""Least privilege: key policies that name who uses a key, identity policies without wildcards,
roles that write only the tenant's log groups, and an application that is not the master user.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator, Mapping
from typing import Any

from provisioner.policy.graph import Graph, Resource, truthy
from provisioner.policy.model import Rule, Severity, Violation
from provisioner.policy.rules.db_bootstrap import bootstrap_roles
from provisioner.policy.rules.tenant_facts import document, instance_id, statements, strings

KEY_TYPES = ("aws:kms/key:Key", "aws:kms/replicaKey:ReplicaKey")
IDENTITY_POLICIES = {
    "aws:iam/rolePolicy:RolePolicy": "policy",
    "aws:iam/policy:Policy": "policy",
    "aws:iam/userPolicy:UserPolicy": "policy",
    "aws:iam/groupPolicy:GroupPolicy": "policy",
}
ROLE = "aws:iam/role:Role"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
DB_INSTANCE = "aws:rds/instance:Instance"
# AWS managed policies a tenant role may carry, and why: service roles whose permissions the
# service defines (AWS Backup needs to read and snapshot what it protects).
ALLOWED_MANAGED_POLICIES = {
    "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup":
        "AWS Backup's own service role policy",
    "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores":
        "AWS Backup's own service role policy",
    # RDS enhanced monitoring's role, as the RDS user guide sets it up: the monitoring agent
    # writes only to the `RDS*` log groups (RDSOSMetrics) under it.
    "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole":
        "RDS enhanced monitoring's own service role policy",
}  # fmt: skip
# Actions that support no resource-level permissions (AWS Service Authorization Reference), so
# `Resource: "*"` is the only way to grant them: the SSM agent's message channels.
NO_RESOURCE_LEVEL_ACTIONS = (
    "ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel",
    "ec2messages:AcknowledgeMessage", "ec2messages:DeleteMessage", "ec2messages:FailMessage",
    "ec2messages:GetEndpoint", "ec2messages:GetMessages", "ec2messages:SendReply",
    # Read-only network lookups Lambda's execution role makes for a function in a VPC.
    "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets",
)  # fmt: skip
ROOT_CONDITIONS = ("aws:principalarn", "kms:viaservice")
LOG_WRITE = ("logs:createlogstream", "logs:putlogevents", "logs:createloggroup",
             "logs:describelogstreams")


def _allows(statement: Mapping[str, Any]) -> bool:
    return statement.get("Effect") == "Allow"


def _condition_keys(statement: Mapping[str, Any]) -> set[str]:
    condition = statement.get("Condition")
    if not isinstance(condition, Mapping):
        return set()
    return {str(k).lower() for block in condition.values() if isinstance(block, Mapping)
            for k in block}


def _key_docs(g: Graph) -> Iterator[tuple[Resource, Mapping[str, Any]]]:
    for key in g.of_type(*KEY_TYPES):
        doc = document(key, "policy")
        if doc is None:
            continue  # KMS's default policy: root kms:*, which KMS-002 reports
        yield key, doc


def check_key_policies(g: Graph) -> Iterator[Violation]:
    for key in g.of_type(*KEY_TYPES):
        doc = document(key, "policy")
        if not doc:
            yield Violation(key.urn, f"key {key.name} has no readable policy: KMS's default gives"
                                     " the account root kms:*")
            continue
        for statement in statements(doc):
            if not _allows(statement):
                continue
            sid = statement.get("Sid") or "a statement"
            actions = [a.lower() for a in strings(statement.get("Action"))]
            if "*" in actions or "kms:*" in actions:
                yield Violation(key.urn, f"key {key.name}: {sid} allows kms:* (name the actions)")
            principal = statement.get("Principal")
            aws = strings(principal.get("AWS")) if isinstance(principal, Mapping) else []
            roots = [p for p in aws if p.endswith(":root") or p.isdigit()]
            if roots and not _condition_keys(statement) & set(ROOT_CONDITIONS):
                yield Violation(key.urn, f"key {key.name}: {sid} allows the whole account"
                                         f" {roots[0]} without aws:PrincipalArn or"
                                         " kms:ViaService")


def check_replication(g: Graph) -> Iterator[Violation]:
    backup_region = g.backup_region
    for key in g.of_type("aws:kms/key:Key"):
        if not truthy(key.inputs.get("multiRegion")):
            continue
        doc = document(key, "policy") or {}
        denied = False
        for statement in statements(doc):
            actions = [a.lower() for a in strings(statement.get("Action"))]
            if statement.get("Effect") != "Deny" or not {"kms:replicatekey", "kms:*", "*"} \
                    & set(actions):
                continue
            condition = statement.get("Condition")
            if not condition:
                denied = True  # no replica anywhere
                continue
            if isinstance(condition, Mapping):
                not_equals = condition.get("StringNotEquals")
                if isinstance(not_equals, Mapping) and strings(
                        not_equals.get("kms:ReplicaRegion")) == [backup_region]:
                    denied = True
        if not denied:
            yield Violation(key.urn, f"multi-region key {key.name} may be replicated anywhere:"
                                     " deny kms:ReplicateKey unless kms:ReplicaRegion is the"
                                     f" backup region {backup_region}")


def _identity_docs(g: Graph) -> Iterator[tuple[Resource, Mapping[str, Any]]]:
    for res in g.data_resources():
        field = IDENTITY_POLICIES.get(res.type)
        if field is None:
            continue
        doc = document(res, field)
        if doc is not None:
            yield res, doc


def _no_resource_level(actions: list[str]) -> bool:
    allowed = {a.lower() for a in NO_RESOURCE_LEVEL_ACTIONS}
    return bool(actions) and all(a.lower() in allowed for a in actions)


def check_identity_policies(g: Graph) -> Iterator[Violation]:
    for res, doc in _identity_docs(g):
        if not doc:
            yield Violation(res.urn, f"{res.name} is not a readable policy document")
            continue
        for statement in statements(doc):
            if not _allows(statement):
                continue
            sid = statement.get("Sid") or "a statement"
            actions = strings(statement.get("Action"))
            if "NotAction" in statement or any(a == "*" or a.endswith(":*") for a in actions):
                yield Violation(res.urn, f"{res.name}: {sid} allows every action of a service")
            resources = strings(statement.get("Resource"))
            if "*" in resources and not _no_resource_level(actions):
                yield Violation(res.urn, f"{res.name}: {sid} grants {', '.join(actions)} on"
                                         " every resource ('*')")
            kms = [a for a in actions if a.lower().startswith(("kms:decrypt", "kms:reencrypt"))]
            if kms and any(r == "*" or r.endswith(":key/*") for r in resources):
                yield Violation(res.urn, f"{res.name}: {sid} allows {kms[0]} on all keys")
    for attachment in g.of_type(ATTACHMENT):
        arn = str(attachment.inputs.get("policyArn", ""))
        if arn not in ALLOWED_MANAGED_POLICIES:
            yield Violation(attachment.urn, f"{attachment.name} attaches managed policy {arn}:"
                                            " grant the role's own actions inline instead")


def _own_log_patterns(g: Graph) -> list[str]:
    slug = instance_id(g)  # the names derive from it, not from the customer's slug
    return [f"/tenant/{slug}/*", f"aws-waf-logs-tenant-{slug}"]


def _log_group_of(resource_arn: str) -> str | None:
    marker = ":log-group:"
    if marker not in resource_arn:
        return None
    return resource_arn.split(marker, 1)[1].split(":log-stream", 1)[0].removesuffix(":*")


def check_log_writes(g: Graph) -> Iterator[Violation]:
    patterns = _own_log_patterns(g)
    for res, doc in _identity_docs(g):
        for statement in statements(doc):
            actions = [a.lower() for a in strings(statement.get("Action"))]
            if not _allows(statement) or not set(actions) & set(LOG_WRITE):
                continue
            for resource in strings(statement.get("Resource")):
                group = _log_group_of(resource) if resource != "*" else "*"
                own = group is not None and group != "*" and any(
                    fnmatch.fnmatchcase(group, p) or group == p.removesuffix("*").rstrip("/")
                    or (group.endswith("*") and group.startswith(p.removesuffix("*")))
                    for p in patterns)
                if not own:
                    yield Violation(res.urn, f"{res.name} lets a role write to log groups"
                                             f" {resource!r}: only the tenant's own"
                                             f" ({', '.join(patterns)})")


def check_app_user(g: Graph) -> Iterator[Violation]:
    """IAM database authentication on; the app reaches the database as a user that is not the
    master, and no role reads a secret but the database bootstrap function's (a role trusted by
    Lambda alone, used by a function of the plan: DB-005 to DB-007 hold that function)."""
    bootstrap = {role.urn for role in bootstrap_roles(g)}
    masters = set()
    for db in g.of_type(DB_INSTANCE):
        masters.add(str(db.inputs.get("username", "")))
        if not truthy(db.inputs.get("iamDatabaseAuthenticationEnabled")):
            yield Violation(db.urn, f"database {db.name} has IAM database authentication off")
    connects = []
    for res, doc in _identity_docs(g):
        for statement in statements(doc):
            actions = [a.lower() for a in strings(statement.get("Action"))]
            if not _allows(statement):
                continue
            roles = g.referents(res.inputs.get("role"), (ROLE,))
            if "secretsmanager:getsecretvalue" in actions and (
                    not roles or any(r.urn not in bootstrap for r in roles)):
                yield Violation(res.urn, f"{res.name} lets a tenant role read a secret: the"
                                         " master secret is for the platform's database"
                                         " bootstrap function only")
            if "rds-db:connect" in actions:
                for resource in strings(statement.get("Resource")):
                    user = resource.rsplit("/", 1)[-1]
                    connects.append(user)
                    if user in masters or user == "*":
                        yield Violation(res.urn, f"{res.name} lets a role connect as {user!r}:"
                                                 " the app user must not be the master user")
    if g.of_type(DB_INSTANCE) and not connects:
        yield Violation(g.stack_urn, "no role connects to the database with IAM authentication:"
                                     " grant rds-db:connect for the app user")


RULES = (
    Rule("KMS-002", "Key policies grant no one kms:*, and grant an account only for named roles"
                    " or through an AWS service", "isolation", Severity.mandatory,
         check_key_policies, "Security Hub KMS.1/KMS.2."),
    Rule("KMS-003", "Multi-region keys cannot be replicated outside the backup region",
         "residency", Severity.mandatory, check_replication),
    Rule("IAM-001", "Identity policies use no wildcard actions, no '*' resources (but actions"
                    " without resource-level permissions) and no managed policies beyond AWS"
                    " Backup's", "isolation", Severity.mandatory, check_identity_policies,
         "checkov CKV_AWS_355, CKV_AWS_286-290; Security Hub KMS.1."),
    Rule("IAM-002", "Roles write only to the tenant's own log groups", "logging",
         Severity.mandatory, check_log_writes),
    Rule("DB-004", "The app connects with IAM authentication as a user that is not the master,"
                   " and no tenant role but the database bootstrap's reads the master secret",
         "at-rest", Severity.mandatory, check_app_user, "Security Hub RDS.10."),
)
