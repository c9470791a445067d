"""Mutations of a real plan: for every rule, changes that must break it and near misses that
must not. Each mutation returns the urn the failure must name (or None when any will do)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from tests.policy.helpers import (
    AWS_MANAGED_KEY,
    FOREIGN_KEY_ARN,
    HTTP,
    HTTPS,
    KEY_ARN,
    TAGS,
    Plan,
    add,
    find,
    inputs,
    remove,
    sg,
)

VOLUME = "aws:ebs/volume:Volume"
INSTANCE = "aws:ec2/instance:Instance"
DB = "aws:rds/instance:Instance"
PARAMS = "aws:rds/parameterGroup:ParameterGroup"
SUBNET_GROUP = "aws:rds/subnetGroup:SubnetGroup"
KEY = "aws:kms/key:Key"
REPLICA = "aws:kms/replicaKey:ReplicaKey"
VAULT = "aws:backup/vault:Vault"
AIR_GAPPED = "aws:backup/logicallyAirGappedVault:LogicallyAirGappedVault"
BACKUP_PLAN = "aws:backup/plan:Plan"
SELECTION = "aws:backup/selection:Selection"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
BUCKET = "aws:s3/bucket:Bucket"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
LB = "aws:lb/loadBalancer:LoadBalancer"
LISTENER = "aws:lb/listener:Listener"
LISTENER_RULE = "aws:lb/listenerRule:ListenerRule"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
DEFAULT_SG = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
SUBNET = "aws:ec2/subnet:Subnet"
VPC = "aws:ec2/vpc:Vpc"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
ROLE = "aws:iam/role:Role"
PUBLIC_SUBNET_ID = "network-public-0-id"
PRIVATE_SUBNET_ID = "network-private-1-id"


@dataclass(frozen=True)
class Case:
    rule: str
    label: str
    mutate: Callable[[Plan], str | None]
    fails: bool
    base: str = "de"

    def __str__(self) -> str:
        return f"{self.rule}-{'fail' if self.fails else 'pass'}-{self.label}"


def setting(type_: str, path: tuple[str, ...], value: object,
            where: Callable[[dict], bool] | None = None) -> Callable[[Plan], str]:
    """Set (or, with value=DELETE, remove) the nested input `path` of the first `type_`."""

    def mutate(plan: Plan) -> str:
        res = find(plan, type_, where)
        target = res["inputs"]
        for step in path[:-1]:
            target = target[step]
        if value is DELETE:
            target.pop(path[-1], None)
        else:
            target[path[-1]] = value
        return str(res["urn"])

    return mutate


DELETE = object()


def both(*steps: Callable[[Plan], str | None]) -> Callable[[Plan], str | None]:
    def mutate(plan: Plan) -> str | None:
        urn = None
        for step in steps:
            urn = step(plan) or urn
        return urn

    return mutate


def naming(type_: str, mutate: Callable[[Plan], object]) -> Callable[[Plan], str]:
    """Apply `mutate`, and expect the failure on the first resource of `type_` (the one whose
    promise breaks, not the one that was edited)."""

    def run(plan: Plan) -> str:
        mutate(plan)
        return str(find(plan, type_)["urn"])

    return run


def removing(type_: str) -> Callable[[Plan], None]:
    def mutate(plan: Plan) -> None:
        remove(plan, type_)

    return mutate


def adding(type_: str, name: str, inputs_: dict, region: str | None = None
           ) -> Callable[[Plan], str]:
    def mutate(plan: Plan) -> str:
        return str(add(plan, type_, name, dict(inputs_), region)["urn"])

    return mutate


def _lb_sg_ingress(cidr: str, port: int, protocol: str = "tcp") -> Callable[[Plan], str]:
    def mutate(plan: Plan) -> str:
        res = find(plan, *sg("lb"))
        res["inputs"]["ingress"].append({"cidrBlocks": [cidr], "fromPort": float(port),
                                         "toPort": float(port), "protocol": protocol})
        return str(res["urn"])

    return mutate


def _app_sg_ingress(entry: dict) -> Callable[[Plan], str]:
    def mutate(plan: Plan) -> str:
        res = find(plan, *sg("app"))
        res["inputs"]["ingress"].append(entry)
        return str(res["urn"])

    return mutate


def _selection_without(kind: str) -> Callable[[Plan], None]:
    def mutate(plan: Plan) -> None:
        sel = inputs(plan, SELECTION)
        sel["resources"] = [r for r in sel["resources"] if f":{kind}/" not in r]

    return mutate


def _copy_to(arn: str) -> Callable[[Plan], str]:
    def mutate(plan: Plan) -> str:
        res = find(plan, BACKUP_PLAN)
        res["inputs"]["rules"][0]["copyActions"][0]["destinationVaultArn"] = arn
        return str(res["urn"])

    return mutate


def _add_bucket(algorithm: str, key: str | None) -> Callable[[Plan], str | None]:
    def mutate(plan: Plan) -> str | None:
        bucket = add(plan, BUCKET, "exports", {"tags": dict(TAGS)})
        default = {"sseAlgorithm": algorithm, **({"kmsMasterKeyId": key} if key else {})}
        add(plan, SSE, "exports-sse", {"bucket": "exports-id",
                                       "rules": [{"applyServerSideEncryptionByDefault": default}]})
        add(plan, PAB, "exports-private", {"bucket": "exports-id", "blockPublicAcls": True,
                                           "blockPublicPolicy": True, "ignorePublicAcls": True,
                                           "restrictPublicBuckets": True})
        assert bucket
        return None  # reported on the SSE configuration or the bucket

    return mutate


def _http_rule(action: dict) -> Callable[[Plan], str]:
    def mutate(plan: Plan) -> str:
        http = find(plan, *HTTP)
        rule = add(plan, LISTENER_RULE, "extra-rule", {
            "listenerArn": f"arn:aws:elasticloadbalancing:eu-central-1:123456789012:listener/"
                           f"{http['name']}-id", "priority": 10.0, "actions": [action],
            "conditions": [{"pathPattern": {"values": ["/x"]}}], "tags": dict(TAGS)})
        return str(rule["urn"])

    return mutate


def _grant(type_: str, field: str, statement: dict) -> Callable[[Plan], str]:
    """Append `statement` to the JSON policy document in `field` of the first `type_`."""

    def mutate(plan: Plan) -> str:
        res = find(plan, type_)
        doc = json.loads(res["inputs"][field])
        doc["Statement"].append(statement)
        res["inputs"][field] = json.dumps(doc)
        return str(res["urn"])

    return mutate


REDIRECT = {"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443",
                                             "statusCode": "HTTP_301"}}
FLOW_LOG_ARN = "arn:aws:logs:eu-central-1:123456789012:log-group:/tenant/demo/vpc-flow-logs"

CASES = [
    # --- at rest -------------------------------------------------------------------------------
    Case("ENC-001", "volume-unencrypted", setting(VOLUME, ("encrypted",), False), True),
    Case("ENC-001", "volume-aws-managed-key",
         setting(VOLUME, ("kmsKeyId",), AWS_MANAGED_KEY), True),
    Case("ENC-001", "root-device-undeclared",
         setting(INSTANCE, ("rootBlockDevice",), DELETE), True),
    Case("ENC-001", "added-plain-volume",
         adding(VOLUME, "scratch", {"size": 10.0, "tags": TAGS}), True),
    Case("ENC-001", "key-by-alias-name",
         setting(VOLUME, ("kmsKeyId",), "alias/tenant-demo"), False),
    Case("ENC-001", "key-by-bare-id", setting(VOLUME, ("kmsKeyId",), "keys-key-id"), False),
    Case("ENC-002", "storage-unencrypted", setting(DB, ("storageEncrypted",), False), True),
    Case("ENC-002", "insights-key-missing",
         setting(DB, ("performanceInsightsKmsKeyId",), DELETE), True),
    Case("ENC-002", "foreign-key", setting(DB, ("kmsKeyId",), FOREIGN_KEY_ARN), True),
    Case("ENC-002", "insights-off-without-key", both(
        setting(DB, ("performanceInsightsEnabled",), False),
        setting(DB, ("performanceInsightsKmsKeyId",), DELETE)), False),
    Case("ENC-003", "plain-password", both(
        setting(DB, ("manageMasterUserPassword",), DELETE),
        setting(DB, ("password",), "[secret]")), True),
    Case("ENC-003", "secret-aws-key",
         setting(DB, ("masterUserSecretKmsKeyId",), "alias/aws/secretsmanager"), True),
    Case("ENC-003", "secret-key-by-alias-arn", setting(
        DB, ("masterUserSecretKmsKeyId",),
        "arn:aws:kms:eu-central-1:123456789012:alias/tenant-demo"), False),
    Case("ENC-004", "vault-without-key", setting(VAULT, ("kmsKeyArn",), DELETE), True),
    Case("ENC-004", "copy-vault-key-of-other-region", setting(
        VAULT, ("kmsKeyArn",), KEY_ARN, lambda i: i["region"] == "eu-west-1"), True),
    Case("ENC-004", "air-gapped-vault-foreign-key",
         setting(AIR_GAPPED, ("encryptionKeyArn",), FOREIGN_KEY_ARN), True, base="uk"),
    Case("ENC-004", "vault-key-by-bare-id", setting(
        VAULT, ("kmsKeyArn",), "keys-key-id", lambda i: i["region"] == "eu-central-1"), False),
    Case("ENC-005", "log-group-unencrypted", setting(LOG_GROUP, ("kmsKeyId",), DELETE), True),
    Case("ENC-005", "log-group-foreign-key", setting(LOG_GROUP, ("kmsKeyId",), FOREIGN_KEY_ARN),
         True),
    Case("ENC-005", "key-by-alias-arn", setting(
        LOG_GROUP, ("kmsKeyId",), "arn:aws:kms:eu-central-1:123456789012:alias/tenant-demo"),
        False),
    Case("ENC-006", "log-bucket-sse-kms", setting(
        SSE, ("rules",), [{"applyServerSideEncryptionByDefault": {
            "sseAlgorithm": "aws:kms", "kmsMasterKeyId": KEY_ARN}}]), True),
    Case("ENC-006", "log-bucket-without-sse", removing(SSE), True),
    Case("ENC-006", "data-bucket-sse-s3", _add_bucket("AES256", None), True),
    Case("ENC-006", "data-bucket-foreign-key", _add_bucket("aws:kms", FOREIGN_KEY_ARN), True),
    Case("ENC-006", "data-bucket-tenant-key", _add_bucket("aws:kms", KEY_ARN), False),
    Case("KMS-001", "rotation-off", setting(KEY, ("enableKeyRotation",), False), True),
    Case("KMS-001", "asymmetric-key-added", adding(KEY, "signing", {
        "enableKeyRotation": True, "customerMasterKeySpec": "RSA_2048",
        "keyUsage": "SIGN_VERIFY", "tags": TAGS}), True),
    Case("KMS-001", "replica-of-foreign-key", adding(REPLICA, "stray-replica", {
        "primaryKeyArn": FOREIGN_KEY_ARN, "region": "eu-west-1", "tags": TAGS}), True),
    Case("KMS-001", "second-rotated-key", adding(KEY, "extra", {
        "enableKeyRotation": True, "tags": TAGS}), False),
    # --- in transit ----------------------------------------------------------------------------
    Case("TLS-001", "old-tls-policy",
         setting(*HTTPS[:1], ("sslPolicy",), "ELBSecurityPolicy-2016-08",
                                              HTTPS[1]), True),
    Case("TLS-001", "cbc-tls13-policy", setting(
        *HTTPS[:1], ("sslPolicy",), "ELBSecurityPolicy-TLS13-1-2-2021-06", HTTPS[1]), True),
    Case("TLS-001", "https-without-certificate", setting(
        *HTTPS[:1], ("certificateArn",), DELETE, HTTPS[1]), True),
    Case("TLS-001", "redirect-302", setting(
        *HTTP[:1], ("defaultActions", 0, "redirect", "statusCode"), "HTTP_302", HTTP[1]), True),
    Case("TLS-001", "redirect-default-port", setting(
        *HTTP[:1], ("defaultActions", 0, "redirect", "port"), DELETE, HTTP[1]), True),
    Case("TLS-001", "http-forwards", setting(*HTTP[:1], ("defaultActions",), [
        {"type": "forward", "targetGroupArn": "x"}], HTTP[1]), True),
    Case("TLS-001", "http-rule-forwards", _http_rule({"type": "forward", "targetGroupArn": "x"}),
         True),
    Case("TLS-001", "tcp-listener-added", adding(LISTENER, "raw", {
        "port": 8080.0, "protocol": "TCP", "loadBalancerArn": "edge-alb-id", "tags": TAGS}), True),
    Case("TLS-001", "pq-policy", setting(
        *HTTPS[:1], ("sslPolicy",), "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09", HTTPS[1]), False),
    Case("TLS-001", "http-rule-redirects", _http_rule(REDIRECT), False),
    Case("TLS-002", "short-max-age", setting(
        *HTTPS[:1], ("routingHttpResponseStrictTransportSecurityHeaderValue",),
        "max-age=300; includeSubDomains", HTTPS[1]), True),
    Case("TLS-002", "no-subdomains", setting(
        *HTTPS[:1], ("routingHttpResponseStrictTransportSecurityHeaderValue",),
        "max-age=63072000", HTTPS[1]), True),
    Case("TLS-002", "no-hsts", setting(
        *HTTPS[:1], ("routingHttpResponseStrictTransportSecurityHeaderValue",), DELETE,
        HTTPS[1]), True),
    Case("TLS-002", "exactly-one-year", setting(
        *HTTPS[:1], ("routingHttpResponseStrictTransportSecurityHeaderValue",),
        "max-age=31536000; includeSubDomains", HTTPS[1]), False),
    Case("TLS-003", "tls-not-required",
         naming(DB, setting(PARAMS, ("parameters", 0, "value"), "0")), True),
    Case("TLS-003", "default-parameter-group", setting(DB, ("parameterGroupName",),
                                                       "default.mysql8.0"), True),
    Case("TLS-003", "no-parameter-group", setting(DB, ("parameterGroupName",), DELETE), True),
    Case("TLS-003", "value-on", setting(PARAMS, ("parameters", 0, "value"), "ON"), False),
    Case("TLS-003", "postgres-force-ssl", setting(
        PARAMS, ("parameters",), [{"name": "rds.force_ssl", "value": "1"}]), False),
    Case("TLS-004", "invalid-headers-forwarded", setting(LB, ("dropInvalidHeaderFields",), False),
         True),
    Case("TLS-004", "network-lb-added", adding(LB, "nlb", {
        "loadBalancerType": "network", "tags": TAGS, "accessLogs": {
            "enabled": True, "bucket": "edge-access-logs-generated"}}), False),
    # --- exposure ------------------------------------------------------------------------------
    Case("NET-001", "public-database", setting(DB, ("publiclyAccessible",), True), True),
    Case("NET-001", "flag-absent", setting(DB, ("publiclyAccessible",), DELETE), False),
    Case("NET-002", "public-ip", setting(INSTANCE, ("associatePublicIpAddress",), True), True),
    Case("NET-002", "subnet-maps-public-ips", naming(INSTANCE, both(
        setting(INSTANCE, ("associatePublicIpAddress",), DELETE),
        setting(SUBNET, ("mapPublicIpOnLaunch",), True,
                lambda i: f"{i['tags']['Name']}" == "private-eu-central-1a"))), True),
    Case("NET-002", "elastic-ip-on-instance", adding(
        "aws:ec2/eip:Eip", "server-ip", {"instance": "compute-server-id", "tags": TAGS}), True),
    Case("NET-002", "flag-absent-private-subnet",
         setting(INSTANCE, ("associatePublicIpAddress",), DELETE), False),
    Case("NET-003", "app-port-open", _app_sg_ingress(
        {"cidrBlocks": ["0.0.0.0/0"], "fromPort": 8443.0, "toPort": 8443.0, "protocol": "tcp"}),
         True),
    Case("NET-003", "ssh-on-lb", _lb_sg_ingress("0.0.0.0/0", 22), True),
    Case("NET-003", "all-protocols-on-lb", _lb_sg_ingress("0.0.0.0/0", 443, "-1"), True),
    Case("NET-003", "public-range-on-lb", _lb_sg_ingress("8.8.8.0/24", 3306), True),
    Case("NET-003", "ipv6-to-database", adding(INGRESS, "db-v6", {
        "securityGroupId": "network-db-sg-id", "cidrIpv6": "::/0", "fromPort": 3306.0,
        "toPort": 3306.0, "ipProtocol": "tcp"}), True),
    Case("NET-003", "vpc-range-to-app", _app_sg_ingress(
        {"cidrBlocks": ["10.0.0.0/16"], "fromPort": 8443.0, "toPort": 8443.0, "protocol": "tcp"}),
         False),
    Case("NET-003", "https-rule-on-lb", adding(INGRESS, "lb-https-v4", {
        "securityGroupId": "network-lb-sg-id", "cidrIpv4": "0.0.0.0/0", "fromPort": 443.0,
        "toPort": 443.0, "ipProtocol": "tcp"}), False),
    Case("NET-004", "imdsv1", setting(INSTANCE, ("metadataOptions", "httpTokens"), "optional"),
         True),
    Case("NET-004", "metadata-defaults", setting(INSTANCE, ("metadataOptions",), DELETE), True),
    Case("NET-004", "metadata-endpoint-off", both(
        setting(INSTANCE, ("metadataOptions", "httpTokens"), "optional"),
        setting(INSTANCE, ("metadataOptions", "httpEndpoint"), "disabled")), False),
    Case("NET-005", "key-name", setting(INSTANCE, ("keyName",), "ops"), True),
    Case("NET-005", "key-pair-added", adding("aws:ec2/keyPair:KeyPair", "ops", {
        "publicKey": "ssh-ed25519 AAAA", "tags": TAGS}), True),
    Case("NET-005", "key-name-null", setting(INSTANCE, ("keyName",), None), False),
    Case("NET-006", "instance-in-public-subnet", setting(INSTANCE, ("subnetId",), PUBLIC_SUBNET_ID),
         True),
    Case("NET-006", "db-subnet-group-public", setting(
        SUBNET_GROUP, ("subnetIds",), [PUBLIC_SUBNET_ID, PRIVATE_SUBNET_ID]), True),
    Case("NET-006", "instance-other-private-subnet",
         setting(INSTANCE, ("subnetId",), PRIVATE_SUBNET_ID), False),
    Case("NET-007", "default-sg-rule", setting(DEFAULT_SG, ("ingress",), [
        {"self": True, "fromPort": 0.0, "toPort": 0.0, "protocol": "-1"}]), True),
    Case("NET-007", "default-sg-not-adopted", removing(DEFAULT_SG), True),
    Case("NET-007", "default-sg-renamed", setting(DEFAULT_SG, ("tags", "Name"), "locked"), False),
    Case("NET-008", "policy-not-blocked", setting(PAB, ("blockPublicPolicy",), False), True),
    Case("NET-008", "no-block", removing(PAB), True),
    Case("NET-008", "second-block", adding(PAB, "again", {
        "bucket": "edge-access-logs-id", "blockPublicAcls": True, "blockPublicPolicy": True,
        "ignorePublicAcls": True, "restrictPublicBuckets": True}), False),
    Case("ISO-001", "peering-added", adding(
        "aws:ec2/vpcPeeringConnection:VpcPeeringConnection", "peer", {
            "vpcId": "network-vpc-id", "peerVpcId": "vpc-0abc", "tags": TAGS}), True),
    Case("ISO-001", "foreign-security-group", _app_sg_ingress(
        {"securityGroups": ["sg-0123456789abcdef0"], "fromPort": 8443.0, "toPort": 8443.0,
         "protocol": "tcp"}), True),
    Case("ISO-001", "foreign-group-rule", adding(INGRESS, "from-elsewhere", {
        "securityGroupId": "network-app-sg-id", "referencedSecurityGroupId": "sg-0feedface",
        "fromPort": 8443.0, "toPort": 8443.0, "ipProtocol": "tcp"}), True),
    Case("ISO-001", "own-group-rule", adding(INGRESS, "from-lb", {
        "securityGroupId": "network-app-sg-id", "referencedSecurityGroupId": "network-lb-sg-id",
        "fromPort": 8443.0, "toPort": 8443.0, "ipProtocol": "tcp"}), False),
    Case("ISO-002", "key-shared-with-another-account", _grant(KEY, "policy", {
        "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
        "Action": "kms:Decrypt", "Resource": "*"}), True),
    Case("ISO-002", "bucket-open-to-everyone", _grant(BUCKET_POLICY, "policy", {
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::edge-access-logs-generated/*"}), True),
    Case("ISO-002", "role-trusts-everyone", _grant(ROLE, "assumeRolePolicy", {
        "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}), True),
    Case("ISO-002", "key-policy-unreadable", setting(KEY, ("policy",), "{oops"), True),
    Case("ISO-002", "everyone-scoped-to-own-account", _grant(BUCKET_POLICY, "policy", {
        "Effect": "Allow", "Principal": "*", "Action": "s3:PutObject",
        "Resource": "arn:aws:s3:::edge-access-logs-generated/*",
        "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}}}), False),
    Case("ISO-002", "own-role-on-key", _grant(KEY, "policy", {
        "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/compute-role"},
        "Action": "kms:Decrypt", "Resource": "*"}), False),
    # --- backups -------------------------------------------------------------------------------
    Case("BAK-001", "weekly", setting(BACKUP_PLAN, ("rules", 0, "schedule"), "cron(0 3 ? * MON *)"),
         True),
    Case("BAK-001", "no-plan", removing(BACKUP_PLAN), True),
    Case("BAK-001", "twice-daily", setting(BACKUP_PLAN, ("rules", 0, "schedule"),
                                           "cron(0 */12 * * ? *)"), False),
    Case("BAK-001", "rate-12-hours", setting(BACKUP_PLAN, ("rules", 0, "schedule"),
                                             "rate(12 hours)"), False),
    Case("BAK-002", "no-copy", setting(BACKUP_PLAN, ("rules", 0, "copyActions"), []), True),
    Case("BAK-002", "other-region-same-country",
         _copy_to("arn:aws:backup:eu-north-1:123456789012:backup-vault:elsewhere"), True),
    Case("BAK-002", "copy-into-source", _copy_to(
        "arn:aws:backup:eu-central-1:123456789012:backup-vault:tenant-demo"), True),
    Case("BAK-002", "air-gapped-to-plain-vault", both(
        adding(VAULT, "plain-copy", {"name": "plain", "kmsKeyArn": "keys-key-id",
                                     "tags": TAGS}),
        _copy_to("arn:aws:backup:eu-west-2:123456789012:backup-vault:plain")), True, base="uk"),
    Case("BAK-002", "copy-vault-by-name-arn", _copy_to(
        "arn:aws:backup:eu-west-1:123456789012:backup-vault:tenant-demo-copy"), False),
    Case("BAK-003", "copy-to-us", _copy_to(
        "arn:aws:backup:us-east-1:123456789012:backup-vault:offshore"), True),
    Case("BAK-003", "copy-to-us-air-gapped", _copy_to(
        "arn:aws:backup:us-east-1:123456789012:backup-vault:offshore"), True, base="uk"),
    Case("BAK-003", "copy-within-eu", _copy_to(
        "arn:aws:backup:eu-central-1:123456789012:backup-vault:elsewhere"), False),
    Case("BAK-004", "database-not-selected", _selection_without("instance"), True),
    Case("BAK-004", "volume-not-selected", _selection_without("volume"), True),
    Case("BAK-004", "added-volume-not-selected", adding(VOLUME, "more", {
        "encrypted": True, "kmsKeyId": KEY_ARN, "tags": TAGS}), True),
    Case("BAK-004", "selection-by-tenant-tag", both(
        setting(SELECTION, ("resources",), []),
        setting(SELECTION, ("selectionTags",), [
            {"type": "STRINGEQUALS", "key": "tenant", "value": "demo"}])), False),
    Case("BAK-005", "automated-backups-off", setting(DB, ("backupRetentionPeriod",), 0.0), True),
    Case("BAK-005", "one-day", setting(DB, ("backupRetentionPeriod",), 1.0), False),
    # --- logging -------------------------------------------------------------------------------
    Case("LOG-001", "access-logs-off", setting(LB, ("accessLogs", "enabled"), False), True),
    Case("LOG-001", "access-logs-absent", setting(LB, ("accessLogs",), DELETE), True),
    Case("LOG-001", "foreign-bucket", setting(LB, ("accessLogs", "bucket"), "someone-elses"), True),
    Case("LOG-001", "no-prefix", setting(LB, ("accessLogs", "prefix"), DELETE), False),
    Case("LOG-002", "rejects-only", setting(FLOW_LOG, ("trafficType",), "REJECT"), True),
    Case("LOG-002", "no-flow-log", removing(FLOW_LOG), True),
    Case("LOG-002", "second-vpc", adding(VPC, "extra-vpc", {"cidrBlock": "10.1.0.0/16",
                                                            "tags": TAGS}), True),
    Case("LOG-002", "foreign-destination", setting(FLOW_LOG, ("logDestination",),
                                                   "arn:aws:logs:eu-central-1:999:log-group:x"),
         True),
    Case("LOG-002", "destination-with-star", setting(FLOW_LOG, ("logDestination",),
                                                     FLOW_LOG_ARN + ":*"), False),
    Case("LOG-003", "no-exports", setting(DB, ("enabledCloudwatchLogsExports",), []), True),
    Case("LOG-003", "error-log-only", setting(DB, ("enabledCloudwatchLogsExports",), ["error"]),
         False),
    Case("LOG-003", "iam-auth-log-without-group", setting(
        DB, ("enabledCloudwatchLogsExports",), ["error", "iam-db-auth-error"]), True),
    Case("LOG-003", "log-group-removed", naming(DB, lambda p: p.__setitem__("resources", [
        r for r in p["resources"] if r["inputs"].get("name") != "/aws/rds/instance/t-demo-db/error"
    ])), True),
    Case("LOG-003", "identifier-unset", setting(DB, ("identifier",), DELETE), True),
    Case("LOG-004", "retention-unset", setting(LOG_GROUP, ("retentionInDays",), DELETE), True),
    Case("LOG-004", "retention-zero", setting(LOG_GROUP, ("retentionInDays",), 0.0), True),
    Case("LOG-004", "one-day", setting(LOG_GROUP, ("retentionInDays",), 1.0), False),
    Case("LOG-005", "rule-disabled",
         naming(BUCKET, setting(LIFECYCLE, ("rules", 0, "status"), "Disabled")), True),
    Case("LOG-005", "no-lifecycle", removing(LIFECYCLE), True),
    Case("LOG-005", "ten-years", setting(LIFECYCLE, ("rules", 0, "expiration", "days"), 3650.0),
         False),
    # --- residency and tags --------------------------------------------------------------------
    Case("RES-001", "volume-in-us", setting(VOLUME, ("region",), "us-east-1"), True),
    Case("RES-001", "log-group-in-backup-region", adding(LOG_GROUP, "dr-logs", {
        "kmsKeyId": "keys-backup-key-id", "retentionInDays": 30.0, "region": "eu-west-1",
        "tags": TAGS}), True),
    Case("RES-001", "database-global", lambda p: _set_region(p, DB, "global"), True),
    Case("RES-001", "vault-in-backup-region", adding(VAULT, "second-copy", {
        "kmsKeyArn": "keys-backup-key-id", "region": "eu-west-1", "tags": TAGS}), False),
    Case("TAG-001", "untagged-volume", setting(VOLUME, ("tags",), DELETE), True),
    Case("TAG-001", "other-tenant", setting(VOLUME, ("tags", "tenant"), "acme"), True),
    Case("TAG-001", "topic-without-tags", adding("aws:sns/topic:Topic", "alerts", {}), True),
    Case("TAG-001", "untaggable-without-tags", adding("aws:s3/bucketPolicy:BucketPolicy", "p2", {
        "bucket": "edge-access-logs-id", "policy": "{}"}), False),
    Case("TAG-001", "extra-tag", setting(VOLUME, ("tags", "cost-centre"), "crm"), False),
]


def _set_region(plan: Plan, type_: str, region: str) -> str:
    res = find(plan, type_)
    res["region"] = region
    res["inputs"].pop("region", None)
    return str(res["urn"])

from tests.policy.cases_monitoring import CASES as _MONITORING_CASES  # noqa: E402

CASES += _MONITORING_CASES
