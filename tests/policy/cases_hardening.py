"""Mutations of a real plan for the hardening rules (backup account, least privilege,
transport, plan promises) and for each regression an outside review found the old rules miss:
each must fail its rule, each near miss must pass it."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.policy.cases import (
    BACKUP_PLAN,
    BUCKET_POLICY,
    DB,
    DELETE,
    INSTANCE,
    KEY,
    LB,
    LISTENER,
    LOG_GROUP,
    PARAMS,
    REPLICA,
    VAULT,
    Case,
    adding,
    both,
    naming,
    removing,
    setting,
)
from tests.policy.helpers import TAGS, Plan, find, sg

LOCK = "aws:backup/vaultLockConfiguration:VaultLockConfiguration"
AIR_GAPPED = "aws:backup/logicallyAirGappedVault:LogicallyAirGappedVault"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
WEB_ACL = "aws:wafv2/webAcl:WebAcl"
WEB_ACL_ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"
WEB_ACL_LOGGING = "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"
OTHER_ACCOUNT_VAULT = "arn:aws:backup:eu-west-1:123456789012:backup-vault:tenant-demo-copy"
BACKUP_ACCOUNT = "210000000004"  # regions.yaml: de's backup account


def _primary(inputs: dict) -> bool:
    return inputs.get("region") == "eu-central-1"


def _tenant_key(inputs: dict) -> bool:
    return inputs.get("multiRegion") is True


def _edit_policy(type_: str, edit: Callable[[dict], None],
                 where: Callable[[dict], bool] | None = None) -> Callable[[Plan], str]:
    """Change the JSON document in `policy` of the first `type_` with `edit(document)`."""

    def mutate(plan: Plan) -> str:
        res = find(plan, type_, where)
        doc = json.loads(res["inputs"]["policy"])
        edit(doc)
        res["inputs"]["policy"] = json.dumps(doc)
        return str(res["urn"])

    return mutate


def _drop_sid(sid: str) -> Callable[[dict], None]:
    def edit(doc: dict) -> None:
        doc["Statement"] = [s for s in doc["Statement"] if s.get("Sid") != sid]

    return edit


def _append(statement: dict) -> Callable[[dict], None]:
    def edit(doc: dict) -> None:
        doc["Statement"].append(statement)

    return edit


def _set_in_sid(sid: str, key: str, value: object) -> Callable[[dict], None]:
    def edit(doc: dict) -> None:
        next(s for s in doc["Statement"] if s.get("Sid") == sid)[key] = value

    return edit


FUNCTION = "aws:lambda/function:Function"
PERMISSION = "aws:lambda/permission:Permission"
FUNCTION_URL = "aws:lambda/functionUrl:FunctionUrl"
ROLE = "aws:iam/role:Role"
SG_ = "aws:ec2/securityGroup:SecurityGroup"


def _bootstrap_role(inputs: dict) -> bool:
    return str(inputs.get("name", "")).endswith("-db-bootstrap")


def _bootstrap_sg(inputs: dict) -> bool:
    return (inputs.get("tags") or {}).get("Name") == "db-bootstrap"


def _reads_secret(inputs: dict) -> bool:
    return "secretsmanager:GetSecretValue" in str(inputs.get("policy", ""))


def _at_bootstrap_policy(mutate: Callable[[Plan], object]) -> Callable[[Plan], str]:
    """Apply `mutate`; the failure is expected on the bootstrap role's policy."""

    def run(plan: Plan) -> str:
        mutate(plan)
        return str(find(plan, ROLE_POLICY, _reads_secret)["urn"])

    return run


def _own_resources(inputs: dict) -> bool:
    return "OwnLogGroups" in str(inputs.get("policy"))


def _nginx(old: str, new: str) -> Callable[[Plan], str]:
    def mutate(plan: Plan) -> str:
        res = find(plan, INSTANCE)
        assert old in res["inputs"]["userData"]
        res["inputs"]["userData"] = res["inputs"]["userData"].replace(old, new)
        return str(res["urn"])

    return mutate


def _egress(entry: dict) -> Callable[[Plan], str]:
    def mutate(plan: Plan) -> str:
        res = find(plan, *sg("app"))
        res["inputs"]["egress"].append(entry)
        return str(res["urn"])

    return mutate


def _mail_listener(port: float, protocol: str) -> Callable[[Plan], str]:
    def mutate(plan: Plan) -> str:
        res = find(plan, LISTENER, lambda i: i.get("port") == 993.0)
        res["inputs"]["port"] = port
        res["inputs"]["protocol"] = protocol
        return str(res["urn"])

    return mutate


def _waf_group(index: int, key: str, value: object) -> Callable[[Plan], str]:
    def mutate(plan: Plan) -> str:
        res = find(plan, WEB_ACL)
        res["inputs"]["rules"][index][key] = value
        return str(res["urn"])

    return mutate


def stack_wide(mutate: Callable[[Plan], object]) -> Callable[[Plan], None]:
    """Apply `mutate`; the failure is about something missing, so no resource is named."""

    def run(plan: Plan) -> None:
        mutate(plan)

    return run


ALB = (LB, lambda i: i.get("loadBalancerType") == "application")
NLB = (LB, lambda i: i.get("loadBalancerType") == "network")

CASES = [
    # --- backups an attacker in the tenant account cannot destroy -----------------------------
    Case("BAK-006", "no-vault-lock", naming(VAULT, removing(LOCK)), True),
    Case("BAK-006", "governance-mode", setting(LOCK, ("changeableForDays",), DELETE), True),
    # The base plan is standard (14 days); the vaults' range is the same for every plan.
    Case("BAK-006", "lock-minimum-under-a-week", setting(LOCK, ("minRetentionDays",), 1.0),
         True),
    Case("BAK-006", "lock-minimum-above-plan", setting(LOCK, ("minRetentionDays",), 30.0), True),
    Case("BAK-006", "lock-minimum-is-the-plans", setting(LOCK, ("minRetentionDays",), 14.0),
         False),
    Case("BAK-006", "lock-without-maximum", setting(LOCK, ("maxRetentionDays",), DELETE), True),
    Case("BAK-006", "lock-maximum-under-plan", setting(LOCK, ("maxRetentionDays",), 10.0), True),
    Case("BAK-006", "lock-maximum-longer", setting(LOCK, ("maxRetentionDays",), 100.0), False),
    Case("BAK-006", "air-gapped-short-minimum",
         setting(AIR_GAPPED, ("minRetentionDays",), 1.0), True, base="uk"),
    Case("BAK-006", "air-gapped-minimum-above-plan",
         setting(AIR_GAPPED, ("minRetentionDays",), 30.0), True, base="uk"),
    Case("BAK-006", "air-gapped-maximum-under-plan",
         setting(AIR_GAPPED, ("maxRetentionDays",), 10.0), True, base="uk"),
    Case("BAK-006", "air-gapped-without-maximum",
         setting(AIR_GAPPED, ("maxRetentionDays",), DELETE), True, base="uk"),
    Case("BAK-006", "backup-kept-beyond-the-lock", setting(
        BACKUP_PLAN, ("rules", 0, "lifecycle", "deleteAfter"), 60.0), True),
    Case("BAK-006", "copy-kept-beyond-the-air-gapped-range", setting(
        BACKUP_PLAN, ("rules", 0, "copyActions", 0, "lifecycle", "deleteAfter"), 60.0), True,
         base="uk"),
    Case("BAK-006", "copy-kept-to-the-maximum", setting(
        BACKUP_PLAN, ("rules", 0, "copyActions", 0, "lifecycle", "deleteAfter"), 35.0), False,
         base="uk"),
    Case("BAK-007", "force-destroy", setting(VAULT, ("forceDestroy",), True), True),
    Case("BAK-007", "force-destroy-false", setting(VAULT, ("forceDestroy",), False), False),
    Case("BAK-008", "copy-in-tenant-account", setting(
        BACKUP_PLAN, ("rules", 0, "copyActions", 0, "destinationVaultArn"),
        OTHER_ACCOUNT_VAULT), True),
    Case("BAK-008", "copy-vault-under-tenant-key", naming(VAULT, setting(
        VAULT, ("kmsKeyArn",), "arn:aws:kms:eu-west-1:123456789012:key/keys-key-id",
        lambda i: i.get("region") == "eu-west-1")), True),
    Case("BAK-008", "copy-vault-under-foreign-key-of-the-account", setting(
        VAULT, ("kmsKeyArn",), f"arn:aws:kms:eu-west-1:{BACKUP_ACCOUNT}:key/unknown",
        lambda i: i.get("region") == "eu-west-1"), True),
    Case("BAK-008", "air-gapped-copy-in-backup-account", setting(
        BACKUP_PLAN, ("name",), "renamed"), False, base="uk"),
    Case("BAK-009", "db-retention-under-a-week", setting(DB, ("backupRetentionPeriod",), 3.0),
         True),
    Case("BAK-009", "copy-deleted-after-a-day", setting(
        BACKUP_PLAN, ("rules", 0, "copyActions", 0, "lifecycle", "deleteAfter"), 1.0), True),
    Case("BAK-009", "kept-longer", setting(
        BACKUP_PLAN, ("rules", 0, "lifecycle", "deleteAfter"), 35.0), False),
    # --- least privilege -----------------------------------------------------------------------
    Case("KMS-002", "root-kms-star", _edit_policy(KEY, _append({
        "Sid": "Root", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
        "Action": "kms:*", "Resource": "*"}), _tenant_key), True),
    Case("KMS-002", "account-wide-decrypt", _edit_policy(KEY, _set_in_sid(
        "TenantRolesUseThroughServices", "Condition", {}), _tenant_key), True),
    Case("KMS-002", "default-key-policy", setting(KEY, ("policy",), DELETE, _tenant_key), True),
    Case("KMS-002", "named-role-without-condition", _edit_policy(KEY, _append({
        "Sid": "Ops", "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:role/ops"},
        "Action": ["kms:DescribeKey"], "Resource": "*"}), _tenant_key), False),
    Case("KMS-003", "replication-unrestricted", _edit_policy(
        KEY, _drop_sid("NoReplicaOutsideBackupRegion"), _tenant_key), True),
    Case("KMS-003", "replication-to-another-region", _edit_policy(KEY, _set_in_sid(
        "NoReplicaOutsideBackupRegion", "Condition",
        {"StringNotEquals": {"kms:ReplicaRegion": "us-east-1"}}), _tenant_key), True),
    Case("KMS-003", "replication-denied-everywhere", _edit_policy(KEY, _set_in_sid(
        "NoReplicaOutsideBackupRegion", "Condition", None), _tenant_key), False),
    Case("RES-001", "replica-in-arbitrary-region", adding(REPLICA, "stray", {
        "primaryKeyArn": "keys-key-id", "region": "us-east-1", "tags": TAGS}), True),
    Case("IAM-001", "action-star", _edit_policy(ROLE_POLICY, _append({
        "Sid": "All", "Effect": "Allow", "Action": "*",
        "Resource": "arn:aws:s3:::edge-access-logs-generated"}), _own_resources), True),
    Case("IAM-001", "resource-star", _edit_policy(ROLE_POLICY, _set_in_sid(
        "OwnParameters", "Resource", "*"), _own_resources), True),
    Case("IAM-001", "decrypt-all-keys", _edit_policy(ROLE_POLICY, _set_in_sid(
        "OwnKey", "Resource", "arn:aws:kms:eu-central-1:123456789012:key/*"), _own_resources),
         True),
    Case("IAM-001", "managed-ssm-core", adding(ATTACHMENT, "ssm-core", {
        "role": "compute-role-id",
        "policyArn": "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"}), True),
    Case("IAM-001", "channel-actions-on-star", _edit_policy(ROLE_POLICY, _set_in_sid(
        "SsmChannels", "Action", ["ssmmessages:OpenDataChannel"]), _own_resources), False),
    Case("IAM-002", "every-log-group", _edit_policy(ROLE_POLICY, _set_in_sid(
        "OwnLogGroups", "Resource", "arn:aws:logs:eu-central-1:123456789012:log-group:*"),
        _own_resources), True),
    Case("IAM-002", "another-tenants-group", _edit_policy(ROLE_POLICY, _set_in_sid(
        "OwnLogGroups", "Resource",
        ["arn:aws:logs:eu-central-1:123456789012:log-group:/tenant/acme/*"]), _own_resources),
         True),
    Case("IAM-002", "one-own-group", _edit_policy(ROLE_POLICY, _set_in_sid(
        "OwnLogGroups", "Resource",
        ["arn:aws:logs:eu-central-1:123456789012:log-group:/tenant/demo/app:*"]),
        _own_resources), False),
    Case("DB-004", "iam-auth-off", setting(DB, ("iamDatabaseAuthenticationEnabled",), False),
         True),
    Case("DB-004", "app-as-master", _edit_policy(ROLE_POLICY, _set_in_sid(
        "OwnDatabaseAsAppUser", "Resource",
        ["arn:aws:rds-db:eu-central-1:123456789012:dbuser:db-x/crm_admin"]), _own_resources),
         True),
    Case("DB-004", "app-reads-master-secret", _edit_policy(ROLE_POLICY, _append({
        "Sid": "Secret", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
        "Resource": "arn:aws:secretsmanager:eu-central-1:123456789012:secret:rds!x"}),
        _own_resources), True),
    Case("DB-004", "master-renamed", setting(DB, ("username",), "platform_admin"), False),
    Case("DB-004", "secret-reader-not-a-function-role", _at_bootstrap_policy(setting(
        FUNCTION, ("role",), "arn:aws:iam::123456789012:role/other")), True),
    Case("DB-004", "bootstrap-role-trusted-by-ec2", _at_bootstrap_policy(setting(
        ROLE, ("assumeRolePolicy",), json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
             "Action": "sts:AssumeRole"}]}), _bootstrap_role)), True),
    # --- the database bootstrap function --------------------------------------------------------
    Case("DB-005", "outside-the-vpc", setting(FUNCTION, ("vpcConfig",), DELETE), True),
    Case("DB-005", "in-a-public-subnet", setting(
        FUNCTION, ("vpcConfig", "subnetIds"), ["network-public-0-id"]), True),
    Case("DB-005", "reachable-from-outside", setting(
        SG_, ("ingress",), [{"protocol": "tcp", "fromPort": 443.0, "toPort": 443.0,
                             "cidrBlocks": ["0.0.0.0/0"]}], _bootstrap_sg), True),
    Case("DB-005", "one-private-subnet", setting(
        FUNCTION, ("vpcConfig", "subnetIds"), ["network-private-1-id"]), False),
    Case("DB-006", "public-resource-policy", adding(PERMISSION, "open", {
        "action": "lambda:InvokeFunction", "function": "t-acme-db-bootstrap",
        "principal": "*"}), True),
    Case("DB-006", "function-url", adding(FUNCTION_URL, "url", {
        "functionName": "t-acme-db-bootstrap", "authorizationType": "NONE"}), True),
    Case("DB-006", "longer-timeout", setting(FUNCTION, ("timeout",), 120.0), False),
    Case("DB-007", "secret-wildcard", _edit_policy(ROLE_POLICY, _set_in_sid(
        "ReadMasterSecret", "Resource",
        ["arn:aws:secretsmanager:eu-central-1:123456789012:secret:*"]), _reads_secret), True),
    Case("DB-007", "another-secret", _edit_policy(ROLE_POLICY, _set_in_sid(
        "ReadMasterSecret", "Resource",
        ["arn:aws:secretsmanager:eu-central-1:123456789012:secret:app-api-key"]),
        _reads_secret), True),
    Case("DB-007", "a-secret-of-another-region", _edit_policy(ROLE_POLICY, _set_in_sid(
        "ReadMasterSecret", "Resource",
        ["arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-x"]), _reads_secret),
         True),
    Case("DB-007", "one-exact-arn-as-a-string", _edit_policy(ROLE_POLICY, _set_in_sid(
        "ReadMasterSecret", "Resource",
        "arn:aws:secretsmanager:eu-central-1:123456789012:secret:rds!database-instance-id"),
        _reads_secret), False),
    # --- transport -----------------------------------------------------------------------------
    Case("TLS-005", "no-waf", naming(LB, removing(WEB_ACL_ASSOCIATION)), True),
    Case("TLS-005", "count-mode", _waf_group(0, "overrideAction", {"count": {}}), True),
    Case("TLS-005", "sqli-group-dropped", _waf_group(2, "statement", {
        "managedRuleGroupStatement": {"vendorName": "AWS",
                                      "name": "AWSManagedRulesAmazonIpReputationList"}}), True),
    Case("TLS-005", "waf-not-logged", naming(WEB_ACL, removing(WEB_ACL_LOGGING)), True),
    Case("TLS-005", "internal-alb", both(
        setting(ALB[0], ("internal",), True, ALB[1]), removing(WEB_ACL_ASSOCIATION)), False),
    Case("TLS-006", "target-group-http", setting(TARGET_GROUP, ("protocol",), "HTTP",
                                                 lambda i: i.get("port") == 8443.0), True),
    Case("TLS-006", "target-group-tcp", setting(TARGET_GROUP, ("protocol",), "TCP",
                                                lambda i: i.get("port") == 993.0), True),
    Case("TLS-006", "health-check-path", setting(TARGET_GROUP, ("healthCheck", "path"), "/up",
                                                 lambda i: i.get("port") == 8443.0), False),
    Case("TLS-007", "plaintext-imap", _mail_listener(143.0, "TCP"), True),
    Case("TLS-007", "submission-587", _mail_listener(587.0, "TLS"), True),
    Case("TLS-007", "imaps-over-tcp", stack_wide(_mail_listener(993.0, "TCP")), True),
    Case("TLS-007", "pq-policy-on-mail", setting(
        LISTENER, ("sslPolicy",), "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09",
        lambda i: i.get("port") == 995.0), False),
    Case("TLS-001", "mail-listener-old-policy", setting(
        LISTENER, ("sslPolicy",), "ELBSecurityPolicy-2016-08",
        lambda i: i.get("port") == 465.0), True),
    Case("TLS-008", "nginx-tls-1-0", _nginx("ssl_protocols TLSv1.2 TLSv1.3;",
                                            "ssl_protocols TLSv1 TLSv1.2 TLSv1.3;"), True),
    Case("TLS-008", "nginx-rsa-key-exchange", _nginx(
        "ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:", "ssl_ciphers AES128-SHA:"), True),
    Case("TLS-008", "nginx-ciphers-unset", _nginx("ssl_ciphers", "# ssl_ciphers"), True),
    Case("TLS-008", "nginx-tls13-only", both(
        _nginx("ssl_protocols TLSv1.2 TLSv1.3;", "ssl_protocols TLSv1.3;")), False),
    Case("TLS-009", "secure-transport-deny-deleted", naming(
        "aws:s3/bucket:Bucket", _edit_policy(BUCKET_POLICY, _drop_sid("DenyInsecureTransport"))),
         True),
    Case("TLS-009", "no-bucket-policy", naming("aws:s3/bucket:Bucket", removing(BUCKET_POLICY)),
         True),
    Case("TLS-009", "deny-with-star-action", _edit_policy(BUCKET_POLICY, _set_in_sid(
        "DenyInsecureTransport", "Action", "*")), False),
    Case("NET-009", "egress-all-traffic", _egress({
        "cidrBlocks": ["0.0.0.0/0"], "fromPort": 0.0, "toPort": 0.0, "protocol": "-1"}), True),
    Case("NET-009", "egress-port-range", _egress({
        "cidrBlocks": ["0.0.0.0/0"], "fromPort": 1024.0, "toPort": 65535.0, "protocol": "tcp"}),
         True),
    Case("NET-009", "egress-ipv6-everything", _egress({
        "ipv6CidrBlocks": ["::/0"], "fromPort": 0.0, "toPort": 0.0, "protocol": "-1"}), True),
    Case("NET-009", "egress-ntp", _egress({
        "cidrBlocks": ["0.0.0.0/0"], "fromPort": 123.0, "toPort": 123.0, "protocol": "udp"}),
         False),
    Case("NET-009", "egress-all-inside-vpc", _egress({
        "cidrBlocks": ["10.0.0.0/16"], "fromPort": 0.0, "toPort": 0.0, "protocol": "-1"}), False),
    # --- plan promises -------------------------------------------------------------------------
    Case("DB-001", "mysql-8-0", setting(DB, ("engineVersion",), "8.0.40"), True),
    Case("DB-001", "engine-default-version", setting(DB, ("engineVersion",), DELETE), True),
    Case("DB-001", "parameter-family-8-0", setting(PARAMS, ("family",), "mysql8.0"), True),
    Case("DB-001", "pinned-8-4-minor", setting(DB, ("engineVersion",), "8.4.3"), False),
    Case("DB-002", "minor-upgrades-off", setting(DB, ("autoMinorVersionUpgrade",), False), True),
    Case("DB-002", "no-window", setting(DB, ("maintenanceWindow",), DELETE), True),
    Case("DB-002", "other-valid-window", setting(DB, ("maintenanceWindow",),
                                                 "sat:23:30-sun:00:30"), False),
    Case("DB-003", "paid-single-az", setting(DB, ("multiAz",), False), True),
    Case("DB-003", "paid-db-deletable", setting(DB, ("deletionProtection",), False), True),
    Case("DB-003", "paid-nlb-deletable", setting(NLB[0], ("enableDeletionProtection",), False,
                                                  NLB[1]), True),
    Case("DB-003", "paid-alb-deletable", setting(ALB[0], ("enableDeletionProtection",), False,
                                                  ALB[1]), True),
    Case("DB-003", "flag-as-string", setting(DB, ("deletionProtection",), "true"), False),
    Case("LOG-006", "one-day", setting(LOG_GROUP, ("retentionInDays",), 1.0), True),
    Case("LOG-006", "shorter-than-plan", setting(LOG_GROUP, ("retentionInDays",), 30.0), True),
    Case("LOG-006", "longer-than-plan", setting(LOG_GROUP, ("retentionInDays",), 3653.0), False),
    Case("NET-007", "default-sg-allows-members", setting(
        "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", ("egress",),
        [{"self": True, "fromPort": 0.0, "toPort": 0.0, "protocol": "-1"}]), True),
    Case("TLS-004", "invalid-headers-kept-absent", setting(
        ALB[0], ("dropInvalidHeaderFields",), DELETE, ALB[1]), True),
]
