"""The hardening promises on the live account: who may use the tenant key, the database's
engine, patching and app user, the firewall in front of the web, mail over TLS, locked vaults
and copies in the backup account.

Each check reads what the offline rules read in the plan (KMS-002/003, DB-001/002/004,
TLS-005/007, BAK-006/008), so a drift made by hand outside the stack is found as well.
"""

from __future__ import annotations

import json
from typing import Any

from provisioner.audit.clients import is_not_found
from provisioner.audit.context import Context
from provisioner.plans import PLANS
from provisioner.promises import ALLOWED_TLS_POLICIES, MAIL_PLAINTEXT_PORTS, MAIL_TLS_PORTS

SUPPORTED_MYSQL = ("8.4",)
WAF_GROUPS = (
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesSQLiRuleSet",
)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


def key_policy_problems(policy: dict[str, Any], backup_region: str, multi_region: bool
                        ) -> list[str]:
    """What a key policy grants too widely (pure: tested on its own too)."""
    problems = []
    replication_denied = False
    for statement in _list(policy.get("Statement")):
        actions = [str(a).lower() for a in _list(statement.get("Action"))]
        condition = statement.get("Condition") or {}
        keys = {str(k).lower() for block in condition.values() if isinstance(block, dict)
                for k in block}
        if statement.get("Effect") == "Deny" and "kms:replicatekey" in actions:
            regions = (condition.get("StringNotEquals") or {}).get("kms:ReplicaRegion")
            replication_denied = not condition or _list(regions) == [backup_region]
            continue
        if statement.get("Effect") != "Allow":
            continue
        sid = statement.get("Sid") or "a statement"
        if "kms:*" in actions or "*" in actions:
            problems.append(f"{sid} allows kms:*")
        principal = statement.get("Principal") or {}
        aws = [str(p) for p in _list(principal.get("AWS"))] if isinstance(principal, dict) \
            else []
        if any(p.endswith(":root") for p in aws) and not keys & {"aws:principalarn",
                                                                  "kms:viaservice"}:
            problems.append(f"{sid} allows a whole account without aws:PrincipalArn or"
                            " kms:ViaService")
    if multi_region and not replication_denied:
        problems.append(f"kms:ReplicateKey is not denied outside {backup_region}")
    return problems


def check_key_policy(ctx: Context) -> None:
    if not ctx.tenant_key_arn:
        return  # kms.tenant-key already failed
    kms = ctx.client("kms")
    raw = kms.get_key_policy(KeyId=ctx.tenant_key_arn, PolicyName="default")["Policy"]
    meta = kms.describe_key(KeyId=ctx.tenant_key_arn)["KeyMetadata"]
    problems = key_policy_problems(json.loads(raw), ctx.target.backup_region,
                                   bool(meta.get("MultiRegion")))
    if problems:
        ctx.report.fail("isolation", "kms.key-policy", ctx.tenant_key_arn, ctx.target.region,
                        "; ".join(problems))
    else:
        ctx.report.check("kms.key-policy", ctx.tenant_key_arn)


def check_database(ctx: Context) -> None:
    rds: Any = ctx.client("rds")
    try:
        dbs = rds.describe_db_instances(DBInstanceIdentifier=ctx.target.db_identifier)
    except Exception as exc:
        if is_not_found(exc):
            return  # inventory.present already failed
        raise
    for db in dbs["DBInstances"]:
        arn, region, report = db["DBInstanceArn"], ctx.target.region, ctx.report
        version = str(db.get("EngineVersion", ""))
        if any(version == v or version.startswith(f"{v}.") for v in SUPPORTED_MYSQL):
            report.check("rds.engine-supported", arn)
        else:
            report.fail("at-rest", "rds.engine-supported", arn, region,
                        f"MySQL {version} is outside RDS standard support: upgrade to 8.4")
        if db.get("AutoMinorVersionUpgrade"):
            report.check("rds.auto-minor-upgrade", arn)
        else:
            report.fail("at-rest", "rds.auto-minor-upgrade", arn, region,
                        "automatic minor version upgrades are off")
        if db.get("IAMDatabaseAuthenticationEnabled"):
            report.check("rds.iam-auth", arn)
        else:
            report.fail("at-rest", "rds.iam-auth", arn, region,
                        "IAM database authentication is off: the app would need a password")


def _load_balancers(ctx: Context, kind: str) -> list[dict[str, Any]]:
    elb: Any = ctx.client("elbv2")
    arns = [r.arn for r in ctx.of_kind("elasticloadbalancing:loadbalancer")]
    if not arns:
        return []
    found = elb.describe_load_balancers(LoadBalancerArns=arns)["LoadBalancers"]
    return [lb for lb in found if lb.get("Type") == kind]


def check_waf(ctx: Context) -> None:
    waf: Any = ctx.client("wafv2")
    for lb in _load_balancers(ctx, "application"):
        arn, region = lb["LoadBalancerArn"], ctx.target.region
        if lb.get("Scheme") == "internal":
            continue
        acl = waf.get_web_acl_for_resource(ResourceArn=arn).get("WebACL")
        if not acl:
            ctx.report.fail("in-transit", "waf.alb-protected", arn, region,
                            "internet-facing load balancer without a WAF web ACL")
            continue
        blocking = {
            r["Statement"]["ManagedRuleGroupStatement"]["Name"]
            for r in acl.get("Rules", [])
            if "ManagedRuleGroupStatement" in r.get("Statement", {})
            and "None" in (r.get("OverrideAction") or {})
        }
        missing = sorted(set(WAF_GROUPS) - blocking)
        try:
            logging = waf.get_logging_configuration(ResourceArn=acl["ARN"])
            destinations = logging["LoggingConfiguration"].get("LogDestinationConfigs", [])
        except Exception as exc:
            if not is_not_found(exc):
                raise
            destinations = []
        if missing or not destinations:
            why = f"does not block with {', '.join(missing)}" if missing else "is not logged"
            ctx.report.fail("in-transit", "waf.alb-protected", acl["ARN"], region,
                            f"web ACL {acl.get('Name')} {why}")
        else:
            ctx.report.check("waf.alb-protected", arn)


def check_mail(ctx: Context) -> None:
    elb: Any = ctx.client("elbv2")
    ports: set[int] = set()
    nlbs = _load_balancers(ctx, "network")
    for lb in nlbs:
        for listener in elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])[
                "Listeners"]:
            port, arn = int(listener["Port"]), listener["ListenerArn"]
            if port in MAIL_PLAINTEXT_PORTS:
                ctx.report.fail("in-transit", "nlb.mail-tls", arn, ctx.target.region,
                                f"plaintext mail listener on port {port}")
            elif port in MAIL_TLS_PORTS:
                if listener.get("Protocol") == "TLS" and \
                        listener.get("SslPolicy") in ALLOWED_TLS_POLICIES:
                    ports.add(port)
                else:
                    ctx.report.fail("in-transit", "nlb.mail-tls", arn, ctx.target.region,
                                    f"mail port {port} is {listener.get('Protocol')} with"
                                    f" {listener.get('SslPolicy')}")
    missing = sorted(set(MAIL_TLS_PORTS) - ports)
    where = nlbs[0]["LoadBalancerArn"] if nlbs else \
        f"arn:aws:elasticloadbalancing:{ctx.target.region}:{ctx.report.account}:loadbalancer/net/*"
    if missing:
        ctx.report.fail("in-transit", "nlb.mail-tls", where, ctx.target.region,
                        f"no TLS listener for mail clients on {missing}")
    else:
        ctx.report.check("nlb.mail-tls", where)


def check_vault_locks(ctx: Context) -> None:
    backup: Any = ctx.client("backup")
    for resource in ctx.of_kind("backup:backup-vault"):
        vault = backup.describe_backup_vault(BackupVaultName=resource.resource_id)
        plan = PLANS.get(dict(resource.tags).get("plan", ""), None)
        wanted = plan.backup_retention_days if plan else 7
        low, high = vault.get("MinRetentionDays"), vault.get("MaxRetentionDays")
        # The range is the same for every plan (a plan change cannot change a lock): it must
        # hold the plan's retention, from a week at least, and be bounded (BAK-006).
        if vault.get("Locked") and low is not None and high is not None \
                and 7 <= low <= wanted <= high:
            ctx.report.check("backup.vault-lock", resource.arn)
        else:
            ctx.report.fail("backups", "backup.vault-lock", resource.arn, ctx.target.region,
                            f"vault lock: locked={vault.get('Locked')}, retention {low}..{high}"
                            f" days (want 7 at least, up to {wanted} or more)")
