"""Encryption at rest: disks, database, secrets, backups, logs and buckets under the tenant's
own key."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from provisioner.policy.graph import Graph, Resource, truthy
from provisioner.policy.model import Rule, Severity, Violation
from provisioner.policy.refs import KEY, REPLICA_KEY, key_in_region, key_verdict

VOLUME = "aws:ebs/volume:Volume"
INSTANCE = "aws:ec2/instance:Instance"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
DB_INSTANCE = "aws:rds/instance:Instance"
DB_CLUSTER = "aws:rds/cluster:Cluster"
SECRET = "aws:secretsmanager/secret:Secret"
VAULT = "aws:backup/vault:Vault"
AIR_GAPPED_VAULT = "aws:backup/logicallyAirGappedVault:LogicallyAirGappedVault"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
BUCKET_SSE = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
LOAD_BALANCERS = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
KMS_ALGORITHMS = ("aws:kms", "aws:kms:dsse")


def _device(g: Graph, res: Resource, label: str, device: Any) -> Iterator[Violation]:
    if not isinstance(device, Mapping):
        yield Violation(res.urn, f"{label} is not declared, so it is not encrypted: set"
                                 " encrypted=true and kmsKeyId to the tenant key")
        return
    if not truthy(device.get("encrypted")):
        yield Violation(res.urn, f"{label} is not encrypted: set encrypted=true")
    v = key_verdict(g, device.get("kmsKeyId")).violation(res.urn, f"{label} kmsKeyId")
    if v:
        yield v


def check_volumes(g: Graph) -> Iterator[Violation]:
    for res in g.of_type(VOLUME):
        yield from _device(g, res, f"volume {res.name}", res.inputs)
    for res in g.of_type(INSTANCE):
        yield from _device(g, res, f"instance {res.name} root device", res.get("rootBlockDevice"))
        for i, dev in enumerate(res.items("ebsBlockDevices")):
            yield from _device(g, res, f"instance {res.name} block device {i}", dev)
    for res in g.of_type(LAUNCH_TEMPLATE):
        for i, mapping in enumerate(res.items("blockDeviceMappings")):
            ebs = mapping.get("ebs")
            if isinstance(ebs, Mapping) or "virtualName" not in mapping:
                yield from _device(g, res, f"launch template {res.name} device {i}", ebs)


def check_database(g: Graph) -> Iterator[Violation]:
    for res in g.of_type(DB_INSTANCE, DB_CLUSTER):
        if not truthy(res.inputs.get("storageEncrypted")):
            yield Violation(res.urn, f"database {res.name} storage is not encrypted:"
                                     " set storageEncrypted=true")
        v = key_verdict(g, res.inputs.get("kmsKeyId"))
        if (found := v.violation(res.urn, f"database {res.name} kmsKeyId")) is not None:
            yield found
        if truthy(res.inputs.get("performanceInsightsEnabled")):
            v = key_verdict(g, res.inputs.get("performanceInsightsKmsKeyId"))
            label = f"database {res.name} performanceInsightsKmsKeyId"
            if (found := v.violation(res.urn, label)) is not None:
                yield found


def check_secrets(g: Graph) -> Iterator[Violation]:
    for res in g.of_type(DB_INSTANCE, DB_CLUSTER):
        if res.inputs.get("password") not in (None, ""):
            yield Violation(res.urn, f"database {res.name} has a master password in its inputs"
                                     " (kept in state): use manageMasterUserPassword=true")
        if not truthy(res.inputs.get("manageMasterUserPassword")):
            yield Violation(res.urn, f"database {res.name} master password is not a managed"
                                     " secret: set manageMasterUserPassword=true")
            continue
        v = key_verdict(g, res.inputs.get("masterUserSecretKmsKeyId"))
        if (found := v.violation(res.urn, f"database {res.name} masterUserSecretKmsKeyId")):
            yield found
    for res in g.of_type(SECRET):
        v = key_verdict(g, res.inputs.get("kmsKeyId"))
        if (found := v.violation(res.urn, f"secret {res.name} kmsKeyId")) is not None:
            yield found


def check_vaults(g: Graph) -> Iterator[Violation]:
    for res in g.of_type(VAULT, AIR_GAPPED_VAULT):
        field = "kmsKeyArn" if res.type == VAULT else "encryptionKeyArn"
        value = res.inputs.get(field)
        v = key_verdict(g, value)
        if (found := v.violation(res.urn, f"backup vault {res.name} {field}")) is not None:
            yield found
        elif not key_in_region(g, value, res.region):
            yield Violation(res.urn, f"backup vault {res.name} {field} is a key of another"
                                     f" region than the vault's ({res.region})")


def check_log_groups(g: Graph) -> Iterator[Violation]:
    for res in g.of_type(LOG_GROUP):
        value = res.inputs.get("kmsKeyId")
        v = key_verdict(g, value)
        if (found := v.violation(res.urn, f"log group {res.name} kmsKeyId")) is not None:
            yield found
        elif not key_in_region(g, value, res.region):
            yield Violation(res.urn, f"log group {res.name} kmsKeyId is a key of another region")


def access_log_buckets(g: Graph) -> set[str]:
    """Urns of the buckets a load balancer of the plan writes its access logs to."""
    out: set[str] = set()
    for lb in g.of_type(*LOAD_BALANCERS):
        for bucket in g.referents(lb.get("accessLogs", "bucket"), BUCKETS):
            out.add(bucket.urn)
    return out


def _sse_defaults(g: Graph, bucket: Resource) -> list[tuple[Resource, Mapping[str, Any]]]:
    """(where it is set, setting) for every default encryption that applies to `bucket`: a
    separate configuration resource, or the bucket's own inline block."""
    out: list[tuple[Resource, Mapping[str, Any]]] = []
    for conf in g.referrers(bucket, BUCKET_SSE, "bucket"):
        for rule in conf.items("rules"):
            default = rule.get("applyServerSideEncryptionByDefault")
            if isinstance(default, Mapping):
                out.append((conf, default))
    inline = bucket.get("serverSideEncryptionConfiguration", "rule",
                        "applyServerSideEncryptionByDefault")
    if isinstance(inline, Mapping):
        out.append((bucket, inline))
    return out


def check_buckets(g: Graph) -> Iterator[Violation]:
    """Every bucket encrypted by default with the tenant's key, except the ALB log bucket.

    Elastic Load Balancing delivers access logs only to buckets encrypted with SSE-S3: "The only
    server-side encryption option that's supported is Amazon S3-managed keys (SSE-S3)"
    (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html).
    So a bucket a load balancer of this plan logs to must use AES256 (AES-256, S3-managed key),
    and SSE-KMS on it is a violation too: it would silently stop the access logs another
    promise requires. Every other bucket needs SSE-KMS under the tenant's own key.
    """
    log_buckets = access_log_buckets(g)
    for bucket in g.of_type(*BUCKETS):
        defaults = _sse_defaults(g, bucket)
        if not defaults:
            yield Violation(bucket.urn, f"bucket {bucket.name} has no default encryption: add a"
                                        " BucketServerSideEncryptionConfiguration")
            continue
        for where, default in defaults:
            algorithm = default.get("sseAlgorithm")
            if bucket.urn in log_buckets:
                if algorithm != "AES256":
                    yield Violation(where.urn, f"bucket {bucket.name} receives load balancer"
                                               f" access logs but uses {algorithm!r}: ELB log"
                                               " delivery supports only SSE-S3 (AES256)")
                continue
            if algorithm not in KMS_ALGORITHMS:
                yield Violation(where.urn, f"bucket {bucket.name} uses {algorithm!r}, not"
                                           " SSE-KMS under the tenant key")
                continue
            v = key_verdict(g, default.get("kmsMasterKeyId"))
            if (found := v.violation(where.urn, f"bucket {bucket.name} kmsMasterKeyId")):
                yield found


def check_keys(g: Graph) -> Iterator[Violation]:
    """Every key in the plan is the tenant's kind of key: symmetric, rotated, replicas of own."""
    for res in g.of_type(KEY, REPLICA_KEY):
        v = key_verdict(g, res.urn)
        if (found := v.violation(res.urn, f"key {res.name}")) is not None:
            yield found
        if res.type == KEY and res.inputs.get("keyUsage") not in (None, "ENCRYPT_DECRYPT"):
            yield Violation(res.urn, f"key {res.name} is not an encryption key")


RULES = (
    Rule("ENC-001", "Every EBS volume and instance block device is encrypted with the tenant key",
         "at-rest", Severity.mandatory, check_volumes),
    Rule("ENC-002", "Database storage and Performance Insights are encrypted with the tenant key",
         "at-rest", Severity.mandatory, check_database),
    Rule("ENC-003", "The database master password is a managed secret under the tenant key",
         "at-rest", Severity.mandatory, check_secrets,
         "A password passed as an input is stored in the Pulumi state; a managed secret is not."),
    Rule("ENC-004", "Backup vaults encrypt recovery points with the tenant key of their region",
         "at-rest", Severity.mandatory, check_vaults),
    Rule("ENC-005", "Log groups are encrypted with the tenant key", "at-rest",
         Severity.mandatory, check_log_groups),
    Rule("ENC-006", "S3 buckets are encrypted by default with the tenant key (ALB log bucket:"
                    " SSE-S3)", "at-rest", Severity.mandatory, check_buckets,
         "ELB access-log delivery supports only SSE-S3 (AWS docs, enable-access-logging), so the"
         " bucket a load balancer logs to must use AES256 and every other bucket SSE-KMS."),
    Rule("KMS-001", "KMS keys are customer-managed, symmetric (AES-256) and rotated; replicas"
                    " replicate the tenant's own key", "at-rest", Severity.mandatory, check_keys),
)
