"""The outside baselines an auditor runs (AWS Security Hub "Foundational Security Best
Practices", checkov's AWS checks, Pulumi AWSGuard), written here independently of the project's
own rules, against all 32 location x plan plans.

Each control is a condition on the plan, named by its control ids. A control may fail only where
`ACCEPTED` lists it, with the reason; the README's security section lists the same exceptions.
An accepted exception that no longer fails is reported too, so the list never goes stale.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from provisioner.paths import PROJECT_ROOT
from provisioner.policy.graph import Graph, Resource
from provisioner.promises import ALLOWED_TLS_POLICIES
from tests.policy.conftest import ALL_COMBINATIONS, real_plan

LB = "aws:lb/loadBalancer:LoadBalancer"
LISTENER = "aws:lb/listener:Listener"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
DB = "aws:rds/instance:Instance"
PARAMS = "aws:rds/parameterGroup:ParameterGroup"
INSTANCE = "aws:ec2/instance:Instance"
VOLUME = "aws:ebs/volume:Volume"
ATTACHMENT = "aws:ec2/volumeAttachment:VolumeAttachment"
SG = "aws:ec2/securityGroup:SecurityGroup"
DEFAULT_SG = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
VPC = "aws:ec2/vpc:Vpc"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
BUCKET = "aws:s3/bucket:Bucket"
PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
BUCKET_LOGGING = "aws:s3/bucketLogging:BucketLogging"
KEY = "aws:kms/key:Key"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
VAULT = "aws:backup/vault:Vault"
AIR_GAPPED = "aws:backup/logicallyAirGappedVault:LogicallyAirGappedVault"
LOCK = "aws:backup/vaultLockConfiguration:VaultLockConfiguration"
BACKUP_PLAN = "aws:backup/plan:Plan"
CERTIFICATE = "aws:acm/certificate:Certificate"
WAF_ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
NACL_TYPES = ("aws:ec2/defaultNetworkAcl:DefaultNetworkAcl", "aws:ec2/networkAcl:NetworkAcl")
PAID = {"standard", "enterprise"}
UNPAID = {"trial", "free"}
ANYWHERE = ("0.0.0.0/0", "::/0")

Check = Callable[[Graph], Iterator[str]]


@dataclass(frozen=True)
class Control:
    ids: str  # the outside control ids, as the auditor's report names them
    check: Check  # yields one line per resource that breaks the control


def _alb(g: Graph) -> list[Resource]:
    return [lb for lb in g.of_type(LB) if lb.inputs.get("loadBalancerType") == "application"]


def _policy(res: Resource) -> dict[str, Any]:
    raw = res.inputs.get("policy")
    return json.loads(raw) if isinstance(raw, str) else {}


def _statements(res: Resource) -> list[dict[str, Any]]:
    statements = _policy(res).get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


# --- load balancer -----------------------------------------------------------------------------
def elb_1(g: Graph) -> Iterator[str]:
    for lst in g.of_type(LISTENER):
        proto = lst.inputs.get("protocol")
        if proto == "HTTP":
            actions = _as_list(lst.inputs.get("defaultActions"))
            if not actions or any(a.get("type") != "redirect" or a["redirect"].get("protocol")
                                  != "HTTPS" for a in actions):
                yield f"{lst.name}: HTTP listener does not only redirect to HTTPS"
        elif lst.inputs.get("sslPolicy") not in ALLOWED_TLS_POLICIES:
            # Stricter than checkov's prefix match: only the forward-secret TLS 1.2/1.3 policies.
            yield f"{lst.name}: {proto} listener policy {lst.inputs.get('sslPolicy')}"


def elb_4(g: Graph) -> Iterator[str]:
    yield from (f"{lb.name}: invalid headers kept" for lb in _alb(g)
                if lb.inputs.get("dropInvalidHeaderFields") is not True)


def elb_5(g: Graph) -> Iterator[str]:
    for lb in g.of_type(LB):
        if (lb.inputs.get("accessLogs") or {}).get("enabled") is not True:
            yield f"{lb.name}: access logs off"


def elb_6(g: Graph) -> Iterator[str]:
    yield from (f"{lb.name}: deletion protection off" for lb in g.of_type(LB)
                if lb.inputs.get("enableDeletionProtection") is not True)


def elb_12(g: Graph) -> Iterator[str]:
    yield from (f"{lb.name}: desync mitigation {lb.inputs.get('desyncMitigationMode')}"
                for lb in _alb(g)
                if lb.inputs.get("desyncMitigationMode") not in ("defensive", "strictest"))


def elb_13(g: Graph) -> Iterator[str]:
    yield from (f"{lb.name}: fewer than two zones" for lb in g.of_type(LB)
                if len(_as_list(lb.inputs.get("subnets"))) < 2)


def elb_18(g: Graph) -> Iterator[str]:
    yield from (f"{lst.name}: port {lst.inputs.get('port')} is {lst.inputs.get('protocol')}"
                for lst in g.of_type(LISTENER)
                if lst.inputs.get("protocol") not in ("HTTPS", "TLS"))


def ckv_aws_378(g: Graph) -> Iterator[str]:
    yield from (f"{tg.name}: {tg.inputs.get('protocol')} to targets"
                for tg in g.of_type(TARGET_GROUP)
                if tg.inputs.get("protocol") not in ("HTTPS", "TLS"))


def ckv2_aws_28(g: Graph) -> Iterator[str]:
    for lb in _alb(g):
        if lb.inputs.get("internal") is True:
            continue
        if not g.referrers(lb, (WAF_ASSOCIATION,), "resourceArn"):
            yield f"{lb.name}: internet-facing ALB without WAF"


def nlb_mail(g: Graph) -> Iterator[str]:
    mail_ports = set()
    for lst in g.of_type(LISTENER):
        port = int(lst.inputs.get("port", 0))
        if port in (25, 110, 143, 587):
            yield f"{lst.name}: plaintext mail port {port}"
        if port in (993, 995, 465):
            mail_ports.add(port)
            if lst.inputs.get("protocol") != "TLS" or \
                    lst.inputs.get("sslPolicy") not in ALLOWED_TLS_POLICIES:
                yield f"{lst.name}: mail port {port} not on the forward-secret TLS policy"
    if mail_ports != {993, 995, 465}:
        yield f"mail TLS listeners only on {sorted(mail_ports)}"


# --- database ------------------------------------------------------------------------------------
def _db(g: Graph) -> list[Resource]:
    return g.of_type(DB)


def rds_flag(field: str, want: Any, what: str) -> Check:
    def check(g: Graph) -> Iterator[str]:
        yield from (f"{db.name}: {what}" for db in _db(g) if db.inputs.get(field) != want)

    return check


def rds_3(g: Graph) -> Iterator[str]:
    for db in _db(g):
        keys = g.referents(db.inputs.get("kmsKeyId"), (KEY,))
        if db.inputs.get("storageEncrypted") is not True or not keys:
            yield f"{db.name}: not encrypted with a key of the tenant"


def rds_6(g: Graph) -> Iterator[str]:
    for db in _db(g):
        if not (db.inputs.get("monitoringInterval") or 0) > 0:
            yield f"{db.name}: no enhanced monitoring"


def rds_9(g: Graph) -> Iterator[str]:
    for db in _db(g):
        exports = set(_as_list(db.inputs.get("enabledCloudwatchLogsExports")))
        missing = {"error", "general", "slowquery", "audit"} - exports
        if missing:
            yield f"{db.name}: exports lack {sorted(missing)}"
        params = {p.get("name"): str(p.get("value")) for grp in
                  g.referents(db.inputs.get("parameterGroupName"), (PARAMS,))
                  for p in _as_list(grp.inputs.get("parameters"))}
        for name in ("general_log", "slow_query_log"):
            if params.get(name) != "1":
                yield f"{db.name}: {name} is not on, so the export is empty"
        if not db.inputs.get("optionGroupName"):
            yield f"{db.name}: no option group with the audit plugin"


def rds_11(g: Graph) -> Iterator[str]:
    yield from (f"{db.name}: retention {db.inputs.get('backupRetentionPeriod')}"
                for db in _db(g) if (db.inputs.get("backupRetentionPeriod") or 0) < 7)


def rds_23(g: Graph) -> Iterator[str]:
    yield from (f"{db.name}: default port" for db in _db(g)
                if db.inputs.get("port") in (None, 3306, 3306.0))


def ckv2_aws_69(g: Graph) -> Iterator[str]:
    for db in _db(g):
        groups = g.referents(db.inputs.get("parameterGroupName"), (PARAMS,))
        values = {p.get("name"): str(p.get("value")) for grp in groups
                  for p in _as_list(grp.inputs.get("parameters"))}
        if values.get("require_secure_transport") != "1":
            yield f"{db.name}: TLS not required"


def engine_version(g: Graph) -> Iterator[str]:
    yield from (f"{db.name}: MySQL {db.inputs.get('engineVersion')}" for db in _db(g)
                if not str(db.inputs.get("engineVersion", "")).startswith("8.4"))


# --- compute and network ----------------------------------------------------------------------
def ec2_8(g: Graph) -> Iterator[str]:
    for inst in g.of_type(INSTANCE):
        meta = inst.inputs.get("metadataOptions") or {}
        if meta.get("httpTokens") != "required" or meta.get("httpPutResponseHopLimit") != 1:
            yield f"{inst.name}: IMDSv2 not required with hop limit 1"


def ec2_9(g: Graph) -> Iterator[str]:
    yield from (f"{i.name}: public IP" for i in g.of_type(INSTANCE)
                if i.inputs.get("associatePublicIpAddress") is not False)


def ec2_2(g: Graph) -> Iterator[str]:
    adopted = {v.urn for d in g.of_type(DEFAULT_SG) for v in g.referents(d.inputs.get("vpcId"))
               if not d.inputs.get("ingress") and not d.inputs.get("egress")}
    yield from (f"{v.name}: default security group allows traffic" for v in g.of_type(VPC)
                if v.urn not in adopted)


def ec2_6(g: Graph) -> Iterator[str]:
    yield from (f"{v.name}: no flow log" for v in g.of_type(VPC)
                if not g.referrers(v, (FLOW_LOG,), "vpcId"))


def ec2_10(g: Graph) -> Iterator[str]:
    services = {str(e.inputs.get("serviceName", "")).rsplit(".", 1)[-1]
                for e in g.of_type(ENDPOINT)}
    missing = {"ssm", "ssmmessages", "logs", "kms", "secretsmanager"} - services
    if missing:
        yield f"no VPC endpoints for {sorted(missing)}"


def ec2_21(g: Graph) -> Iterator[str]:
    nacls = [n for t in NACL_TYPES for n in g.of_type(t)]
    if not nacls:
        yield "the default network ACL allows 0.0.0.0/0 to every port, 22 and 3389 included"
    for nacl in nacls:
        for entry in _as_list(nacl.inputs.get("ingress")):
            if entry.get("action") == "allow" and entry.get("cidrBlock") in ANYWHERE and \
                    entry.get("fromPort", 0) <= 22 <= entry.get("toPort", 65535):
                yield f"{nacl.name}: admits 0.0.0.0/0 to admin ports"


def ec2_18(g: Graph) -> Iterator[str]:
    for sg in g.of_type(SG):
        for rule in _as_list(sg.inputs.get("egress")):
            to_internet = set(_as_list(rule.get("cidrBlocks")) + _as_list(
                rule.get("ipv6CidrBlocks"))) & set(ANYWHERE)
            if to_internet and (rule.get("protocol") == "-1" or
                                rule.get("fromPort") != rule.get("toPort")):
                yield f"{sg.name}: egress to the internet on all ports"


def ckv_aws_46(g: Graph) -> Iterator[str]:
    secret = re.compile(r"(AKIA[0-9A-Z]{16}|password\s*=|BEGIN (RSA )?PRIVATE KEY)", re.I)
    for inst in g.of_type(INSTANCE):
        if secret.search(str(inst.inputs.get("userData", ""))):
            yield f"{inst.name}: secret in user data"


def ec2_4(g: Graph) -> Iterator[str]:
    yield "a runtime control: a suspended tenant's stopped instance is kept until deletion"


# --- storage, keys, identity, logs, backups --------------------------------------------------
def s3_1(g: Graph) -> Iterator[str]:
    for bucket in g.of_type(BUCKET):
        blocks = g.referrers(bucket, (PAB,), "bucket")
        fields = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                  "restrictPublicBuckets")
        if not any(all(b.inputs.get(f) is True for f in fields) for b in blocks):
            yield f"{bucket.name}: public access not blocked"


def s3_5(g: Graph) -> Iterator[str]:
    for bucket in g.of_type(BUCKET):
        denies = [s for p in g.referrers(bucket, (BUCKET_POLICY,), "bucket")
                  for s in _statements(p) if s.get("Effect") == "Deny" and
                  (s.get("Condition") or {}).get("Bool", {}).get("aws:SecureTransport") == "false"]
        if not denies:
            yield f"{bucket.name}: no aws:SecureTransport deny"


def s3_9(g: Graph) -> Iterator[str]:
    yield from (f"{b.name}: no server access logging" for b in g.of_type(BUCKET)
                if not g.referrers(b, (BUCKET_LOGGING,), "bucket"))


def kms_1_2(g: Graph) -> Iterator[str]:
    for key in g.of_type(KEY):
        for s in _statements(key):
            actions = _as_list(s.get("Action"))
            if s.get("Effect") == "Allow" and ("kms:*" in actions or "*" in actions):
                yield f"{key.name}: {s.get('Sid')} grants kms:*"
    for pol in g.of_type(ROLE_POLICY):
        for s in _statements(pol):
            actions = [a.lower() for a in _as_list(s.get("Action"))]
            if any(a.startswith(("kms:decrypt", "kms:reencrypt")) for a in actions) and \
                    "*" in _as_list(s.get("Resource")):
                yield f"{pol.name}: decrypt on all keys"


def kms_4(g: Graph) -> Iterator[str]:
    yield from (f"{k.name}: rotation off" for k in g.of_type(KEY)
                if k.inputs.get("enableKeyRotation") is not True)


def ckv_aws_355(g: Graph) -> Iterator[str]:
    # Actions with no resource-level permissions are the only ones allowed on "*" (Service
    # Authorization Reference: the SSM channels; EC2's Describe calls, which checkov's list of
    # unrestrictable actions carries too).
    unrestrictable = ("ssmmessages:", "ec2messages:")
    unrestrictable_actions = ("ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets")
    for pol in g.of_type(ROLE_POLICY):
        for s in _statements(pol):
            actions = _as_list(s.get("Action"))
            if "*" in actions:
                yield f"{pol.name}: Action *"
            if "*" in _as_list(s.get("Resource")) and not all(
                    a.startswith(unrestrictable) or a in unrestrictable_actions for a in actions):
                yield f"{pol.name}: restrictable actions on Resource *"
    for att in g.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment"):
        if str(att.inputs.get("policyArn", "")).endswith("AmazonSSMManagedInstanceCore"):
            yield f"{att.name}: AmazonSSMManagedInstanceCore (ssm:GetParameter on *)"


def ckv_aws_338(g: Graph) -> Iterator[str]:
    yield from (f"{lg.name}: kept {lg.inputs.get('retentionInDays')} days"
                for lg in g.of_type(LOG_GROUP) if (lg.inputs.get("retentionInDays") or 0) < 365)


def ckv_aws_158(g: Graph) -> Iterator[str]:
    yield from (f"{lg.name}: not encrypted with the tenant's key" for lg in g.of_type(LOG_GROUP)
                if not g.referents(lg.inputs.get("kmsKeyId"), (KEY,)))


def backup_1(g: Graph) -> Iterator[str]:
    for vault in g.of_type(VAULT) + g.of_type(AIR_GAPPED):
        key = vault.inputs.get("kmsKeyArn") or vault.inputs.get("encryptionKeyArn")
        if not g.referents(key, (KEY,)):
            yield f"{vault.name}: not under a customer key of the tenant"


def vault_lock(g: Graph) -> Iterator[str]:
    for vault in g.of_type(VAULT):
        locks = g.referrers(vault, (LOCK,), "backupVaultName")
        if vault.inputs.get("forceDestroy") or not any(
                lock.inputs.get("changeableForDays") for lock in locks):
            yield f"{vault.name}: not locked in compliance mode, or force_destroy"
    for vault in g.of_type(AIR_GAPPED):
        if not vault.inputs.get("minRetentionDays"):
            yield f"{vault.name}: no minimum retention"


def separate_account(g: Graph) -> Iterator[str]:
    tenant_account = "123456789012"  # regions.yaml offline account
    for plan in g.of_type(BACKUP_PLAN):
        for rule in _as_list(plan.inputs.get("rules")):
            for copy in _as_list(rule.get("copyActions")):
                if str(copy.get("destinationVaultArn", "")).split(":")[4] == tenant_account:
                    yield f"{plan.name}: copy stays in the tenant's account"


def secretsmanager_1(g: Graph) -> Iterator[str]:
    # The master secret is RDS-managed, which RDS rotates itself (every 7 days by default).
    yield from (f"{db.name}: master password not managed (not rotated)" for db in _db(g)
                if db.inputs.get("manageMasterUserPassword") is not True)


def acm_1(g: Graph) -> Iterator[str]:
    yield from (f"{c.name}: not DNS-validated" for c in g.of_type(CERTIFICATE)
                if c.inputs.get("validationMethod") != "DNS")


def ec2_volume_inuse(g: Graph) -> Iterator[str]:
    yield from (f"{v.name}: not attached" for v in g.of_type(VOLUME)
                if not g.referrers(v, (ATTACHMENT,), "volumeId"))


CONTROLS = [
    Control("ELB.1 / CKV_AWS_2 / CKV_AWS_103", elb_1),
    Control("ELB.4 / CKV_AWS_131", elb_4),
    Control("ELB.5 / CKV_AWS_91", elb_5),
    Control("ELB.6 / CKV_AWS_150", elb_6),
    Control("ELB.12 / CKV_AWS_328", elb_12),
    Control("ELB.13", elb_13),
    Control("ELB.18", elb_18),
    Control("CKV_AWS_378", ckv_aws_378),
    Control("CKV2_AWS_28", ckv2_aws_28),
    Control("NLB TLS listeners", nlb_mail),
    Control("RDS.2", rds_flag("publiclyAccessible", False, "publicly accessible")),
    Control("RDS.3 / CKV_AWS_16", rds_3),
    Control("RDS.5 / CKV_AWS_157 / rds-instance-multi-az-enabled",
            rds_flag("multiAz", True, "single-AZ")),
    Control("RDS.6 / CKV_AWS_118", rds_6),
    Control("RDS.8 / CKV_AWS_293", rds_flag("deletionProtection", True, "deletable")),
    Control("RDS.9 / CKV_AWS_129", rds_9),
    Control("RDS.10 / CKV_AWS_161", rds_flag("iamDatabaseAuthenticationEnabled", True,
                                             "IAM authentication off")),
    Control("RDS.11", rds_11),
    Control("RDS.13 / CKV_AWS_226", rds_flag("autoMinorVersionUpgrade", True,
                                             "minor upgrades off")),
    Control("RDS.23", rds_23),
    Control("CKV2_AWS_69", ckv2_aws_69),
    Control("engine version", engine_version),
    Control("EC2.8 / CKV_AWS_79", ec2_8),
    Control("EC2.9", ec2_9),
    Control("EC2.2", ec2_2),
    Control("EC2.6", ec2_6),
    Control("EC2.10", ec2_10),
    Control("EC2.21", ec2_21),
    Control("CKV_AWS_382 / EC2.18", ec2_18),
    Control("CKV_AWS_46", ckv_aws_46),
    Control("EC2.4", ec2_4),
    Control("S3.1 / S3.8", s3_1),
    Control("S3.5", s3_5),
    Control("S3.9 / CKV_AWS_18 / s3-bucket-logging-enabled", s3_9),
    Control("KMS.1 / KMS.2", kms_1_2),
    Control("KMS.4 / CKV_AWS_7", kms_4),
    Control("CKV_AWS_355 / CKV_AWS_286-290", ckv_aws_355),
    Control("CKV_AWS_338", ckv_aws_338),
    Control("CKV_AWS_158", ckv_aws_158),
    Control("Backup.1", backup_1),
    Control("Vault Lock", vault_lock),
    Control("separate account", separate_account),
    Control("SecretsManager.1", secretsmanager_1),
    Control("ACM.1", acm_1),
    Control("ec2-volume-inuse", ec2_volume_inuse),
]

ALL_PLANS = frozenset(p for _loc, p in ALL_COMBINATIONS)
# Control ids -> (plans where it may fail, why). The README's security section lists these.
ACCEPTED: dict[str, tuple[frozenset[str], str]] = {
    "ELB.6 / CKV_AWS_150": (frozenset(UNPAID), "trial and free load balancers hold no data and"
                            " are deleted by the retention rules; paid plans are protected"),
    "ELB.18": (ALL_PLANS, "port 80 answers only a 301 to HTTPS (HSTS preload needs it)"),
    "RDS.5 / CKV_AWS_157 / rds-instance-multi-az-enabled": (
        frozenset(UNPAID), "trial and free run a single-AZ database by plan; paid are Multi-AZ"),
    "RDS.8 / CKV_AWS_293": (frozenset(UNPAID), "trial and free databases are deleted by the"
                            " retention rules; paid plans are protected"),
    "RDS.23": (ALL_PLANS, "3306 is reachable only from the tenant's app server security group"
               " in private subnets; another port adds no protection"),
    "EC2.10": (ALL_PLANS, "no interface endpoints (cost per tenant); the app reaches AWS APIs"
               " over TLS through the NAT gateway, egress limited to 443"),
    "EC2.21": (ALL_PLANS, "the default network ACL is left open; security groups (stateful,"
               " nothing on 22/3389, no SSH keys) are the boundary"),
    "EC2.4": (ALL_PLANS, "runtime control: a suspended tenant's instance stays stopped until"
              " the retention rules delete it (at most 90 days after closure)"),
    "CKV_AWS_338": (frozenset({"trial", "free", "standard"}), "operational logs (app, nginx,"
                    " system, database error/general/slow) are kept per plan (30/90 days);"
                    " security logs a year on every plan"),
    "S3.9 / CKV_AWS_18 / s3-bucket-logging-enabled": (
        ALL_PLANS, "the only bucket is the access-log bucket itself; logging it to itself"
        " would loop"),
}


def _failures(control: Control) -> dict[tuple[str, str], list[str]]:
    out = {}
    for location, plan in ALL_COMBINATIONS:
        problems = list(control.check(Graph.from_plan(real_plan(location, plan))))
        if problems:
            out[(location, plan)] = problems
    return out


@pytest.mark.parametrize("control", CONTROLS, ids=lambda c: c.ids)
def test_every_plan_meets_the_control_or_the_exception_is_accepted(control: Control) -> None:
    failing = _failures(control)
    allowed = ACCEPTED.get(control.ids, (frozenset(), ""))[0]
    unaccepted = {k: v for k, v in failing.items() if k[1] not in allowed}
    assert unaccepted == {}, f"{control.ids} fails outside its accepted exceptions"
    if control.ids in ACCEPTED:
        failing_plans = {plan for _loc, plan in failing}
        assert failing_plans, f"{control.ids} passes everywhere now: remove its exception"


def test_every_accepted_exception_is_a_control_and_is_in_the_readme() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Outside baselines", 1)[1].split("\n## ", 1)[0]
    for ids in ACCEPTED:
        assert ids in {c.ids for c in CONTROLS}
        assert ids.split(" / ")[0] in section, f"README does not list {ids}"


def test_the_checks_catch_what_they_claim() -> None:
    """A few controls on a broken plan, so a check that can never fail is caught."""
    plan = real_plan("de", "standard")
    for res in plan["resources"]:
        if res["type"] == DB:
            res["inputs"]["engineVersion"] = "8.0.40"
            res["inputs"]["autoMinorVersionUpgrade"] = False
        if res["type"] == VAULT:
            res["inputs"]["forceDestroy"] = True
        if res["type"] == WAF_ASSOCIATION:
            res["inputs"]["resourceArn"] = "arn:aws:elasticloadbalancing:x:1:loadbalancer/other"
    g = Graph.from_plan(plan)
    assert list(engine_version(g)) and list(rds_flag("autoMinorVersionUpgrade", True, "x")(g))
    assert list(vault_lock(g)) and list(ckv2_aws_28(g))
