"""The live audit against moto's server: a compliant tenant passes; each violation is caught.

Each violation is made with plain boto3 on a tenant that passed, and must produce a finding
naming the right rule, the right promise and the offending resource's ARN.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from provisioner.audit.clients import Clients
from provisioner.audit.model import Report, Target
from provisioner.promises import PROMISES

from .builder import Built, build_tenant, client, database_without_tls, stub_selection
from .stubs import BackupStubs

REGIONS = ["eu-central-1", "eu-west-1", "us-east-1"]  # own, backup, one foreign


def audit(clients: Clients, built: Built) -> Report:
    from provisioner.audit.runner import audit_tenant

    return audit_tenant(clients, Target(built.slug, built.location), regions=REGIONS)


def findings(report: Report) -> set[tuple[str, str, str]]:
    return {(f.rule, f.promise, f.arn) for f in report.findings}


def test_compliant_tenant_passes_every_check(clients: Clients, tenant: Built) -> None:
    report = audit(clients, tenant)
    assert report.findings == []
    assert report.passed
    checked = report.to_dict()["checked"]
    # Coverage, not only silence: each promise was actually checked on the tenant's resources.
    assert tenant.db_arn in checked["rds.require-tls"]
    assert tenant.https_arn in checked["alb.hsts"]
    assert tenant.http_arn in checked["alb.http-redirects"]
    assert tenant.plan_arn in checked["backup.copy-destination"]
    root = f"arn:aws:ec2:{tenant.region}:{tenant.account}:volume/{tenant.root_volume_id}"
    assert root in checked["ebs.encrypted-with-tenant-key"]  # untagged, found by attachment
    assert "region:us-east-1" in checked["residency.region"]


def _unencrypted_volume(b: Built) -> str:
    vol = client("ec2", b.region).create_volume(
        AvailabilityZone=b.location.zones[0],
        Size=10,
        TagSpecifications=[{"ResourceType": "volume", "Tags": b.tags}],
    )["VolumeId"]
    return f"arn:aws:ec2:{b.region}:{b.account}:volume/{vol}"


def _volume_other_key(b: Built) -> str:
    other = client("kms", b.region).create_key()["KeyMetadata"]["Arn"]
    vol = client("ec2", b.region).create_volume(
        AvailabilityZone=b.location.zones[0],
        Size=10,
        Encrypted=True,
        KmsKeyId=other,
        TagSpecifications=[{"ResourceType": "volume", "Tags": b.tags}],
    )["VolumeId"]
    return f"arn:aws:ec2:{b.region}:{b.account}:volume/{vol}"


def _public_database(b: Built) -> str:
    client("rds", b.region).modify_db_instance(
        DBInstanceIdentifier=f"t-{b.slug}-db", PubliclyAccessible=True, ApplyImmediately=True
    )
    return b.db_arn


def _database_logs_not_exported(b: Built) -> str:
    client("rds", b.region).modify_db_instance(
        DBInstanceIdentifier=f"t-{b.slug}-db",
        CloudwatchLogsExportConfiguration={"DisableLogTypes": ["error", "general", "slowquery"]},
    )
    return b.db_arn


def _no_flow_logs(b: Built) -> str:
    client("ec2", b.region).delete_flow_logs(FlowLogIds=[b.flow_log_id])
    return f"arn:aws:ec2:{b.region}:{b.account}:vpc/{b.vpc_id}"


def _old_tls_policy(b: Built) -> str:
    client("elbv2", b.region).modify_listener(
        ListenerArn=b.https_arn, SslPolicy="ELBSecurityPolicy-2016-08"
    )
    return b.https_arn


def _https_without_hsts(b: Built) -> str:
    elb = client("elbv2", b.region)
    cert = client("acm", b.region).request_certificate(DomainName="x.crm.example.com")
    return elb.create_listener(
        LoadBalancerArn=b.lb_arn,
        Protocol="HTTPS",
        Port=8443,
        SslPolicy="ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
        Certificates=[{"CertificateArn": cert["CertificateArn"]}],
        DefaultActions=[{"Type": "forward", "TargetGroupArn": b.target_group_arn}],
    )["Listeners"][0]["ListenerArn"]


def _weak_hsts(b: Built) -> str:
    client("elbv2", b.region).modify_listener_attributes(
        ListenerArn=b.https_arn,
        Attributes=[
            {
                "Key": "routing.http.response.strict_transport_security.header_value",
                "Value": "max-age=300",
            }
        ],
    )
    return b.https_arn


def _http_forwarding(b: Built) -> str:
    client("elbv2", b.region).modify_listener(
        ListenerArn=b.http_arn,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": b.target_group_arn}],
    )
    return b.http_arn


def _invalid_headers_kept(b: Built) -> str:
    client("elbv2", b.region).modify_load_balancer_attributes(
        LoadBalancerArn=b.lb_arn,
        Attributes=[{"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "false"}],
    )
    return b.lb_arn


def _access_logs_off(b: Built) -> str:
    client("elbv2", b.region).modify_load_balancer_attributes(
        LoadBalancerArn=b.lb_arn, Attributes=[{"Key": "access_logs.s3.enabled", "Value": "false"}]
    )
    return b.lb_arn


def _unencrypted_log_group(b: Built) -> str:
    name = f"/provisioner/t-{b.slug}/plain"
    client("logs", b.region).create_log_group(
        logGroupName=name, tags={t["Key"]: t["Value"] for t in b.tags}
    )
    return f"arn:aws:logs:{b.region}:{b.account}:log-group:{name}"


def _plan(b: Built, name: str, rule: dict[str, Any]) -> str:
    plan = client("backup", b.region).create_backup_plan(
        BackupPlan={"BackupPlanName": name, "Rules": [rule]},
        BackupPlanTags={t["Key"]: t["Value"] for t in b.tags},
    )
    assert b.stubs is not None
    b.stubs.plans[plan["BackupPlanId"]] = b  # it selects the tenant's resources, like the first
    return str(plan["BackupPlanArn"])


def _copy_to_other_jurisdiction(b: Built) -> str:
    us_vault = client("backup", "us-east-1").create_backup_vault(BackupVaultName=f"{b.slug}-us")
    return _plan(
        b,
        f"t-{b.slug}-us",
        {
            "RuleName": "daily",
            "TargetBackupVaultName": b.vault_name,
            "ScheduleExpression": "cron(0 3 ? * * *)",
            "CopyActions": [{"DestinationBackupVaultArn": us_vault["BackupVaultArn"]}],
        },
    )


def _weekly_plan(b: Built) -> str:
    return _plan(
        b,
        f"t-{b.slug}-weekly",
        {
            "RuleName": "weekly",
            "TargetBackupVaultName": b.vault_name,
            "ScheduleExpression": "cron(0 3 ? * SUN *)",
        },
    )


def _foreign_region_volume(b: Built) -> str:
    vol = client("ec2", "us-east-1").create_volume(
        AvailabilityZone="us-east-1a",
        Size=10,
        Encrypted=True,
        TagSpecifications=[{"ResourceType": "volume", "Tags": b.tags}],
    )["VolumeId"]
    return f"arn:aws:ec2:us-east-1:{b.account}:volume/{vol}"


def _foreign_region_bucket(b: Built) -> str:
    s3 = client("s3", "us-east-1")
    s3.create_bucket(Bucket=f"t-{b.slug}-stray")
    s3.put_bucket_tagging(Bucket=f"t-{b.slug}-stray", Tagging={"TagSet": b.tags})
    return f"arn:aws:s3:::t-{b.slug}-stray"


def _missing_tags(b: Built) -> str:
    vol = client("ec2", b.region).create_volume(
        AvailabilityZone=b.location.zones[0],
        Size=10,
        Encrypted=True,
        KmsKeyId=b.key_arn,
        TagSpecifications=[
            {"ResourceType": "volume", "Tags": [{"Key": "tenant", "Value": b.slug}]}
        ],
    )["VolumeId"]
    return f"arn:aws:ec2:{b.region}:{b.account}:volume/{vol}"


Violation = tuple[Callable[[Built], str], str, str]  # make it -> ARN; rule; promise

# Grouped so that one tenant carries several violations that touch different resources or
# rules (a tenant costs about a second to build in moto); every expected finding is listed and
# the findings must be exactly these, so a missed or a spurious finding fails the test.
VIOLATIONS: dict[str, list[Violation]] = {
    "storage": [
        (_unencrypted_volume, "ebs.encrypted-with-tenant-key", "at-rest"),
        (_volume_other_key, "ebs.encrypted-with-tenant-key", "at-rest"),
        (_unencrypted_log_group, "logs.encrypted-with-tenant-key", "logging"),
        (_missing_tags, "tags.required", "tagging"),
        (_no_flow_logs, "vpc.flow-logs", "logging"),
    ],
    "database": [
        (_public_database, "rds.not-public", "isolation"),
        (database_without_tls, "rds.require-tls", "in-transit"),
        (_database_logs_not_exported, "rds.log-exports", "logging"),
    ],
    "web": [
        (_old_tls_policy, "alb.tls-policy", "in-transit"),
        (_https_without_hsts, "alb.hsts", "in-transit"),
        (_http_forwarding, "alb.http-redirects", "in-transit"),
        (_invalid_headers_kept, "alb.drop-invalid-headers", "in-transit"),
        (_access_logs_off, "alb.access-logs", "logging"),
    ],
    "backups": [
        (_copy_to_other_jurisdiction, "backup.copy-destination", "residency"),
        (_weekly_plan, "backup.daily-rule", "backups"),
        (_weak_hsts, "alb.hsts", "in-transit"),
    ],
    "residency": [
        (_foreign_region_volume, "residency.region", "residency"),
        (_foreign_region_bucket, "residency.region", "residency"),
    ],
}


@pytest.mark.parametrize("group", sorted(VIOLATIONS))
def test_each_violation_is_a_finding_naming_rule_promise_and_arn(
    group: str, clients: Clients, tenant: Built
) -> None:
    expected = {(rule, promise, make(tenant)) for make, rule, promise in VIOLATIONS[group]}
    report = audit(clients, tenant)
    assert findings(report) == expected, report.to_dict()["findings"]
    assert not report.passed
    assert {f.promise for f in report.findings} <= set(PROMISES)  # published promises only


def test_missing_selection_is_a_finding(
    clients: Clients, tenant: Built, stubs: BackupStubs
) -> None:
    # Stubbed with botocore's Stubber: moto 5.2.5 has no AWS Backup selections.
    stubs.on("ListBackupSelections", {"BackupSelectionsList": []})
    report = audit(clients, tenant)
    assert findings(report) == {("backup.selection", "backups", tenant.plan_arn)}
    assert stubs.called("ListBackupSelections") == [{"BackupPlanId": tenant.plan_id}]


def test_kms_defaults_key_policy_is_a_finding(aws: str, slug: str) -> None:
    """KMS's default policy gives the account root kms:* and lets anyone replicate the key."""
    built = build_tenant(slug, "ie", key_policy=False)
    report = audit(Clients(on_new_client=stub_selection(BackupStubs(), built).attach), built)
    assert ("kms.key-policy", "isolation", built.key_arn) in findings(report)
    message = next(f.message for f in report.findings if f.rule == "kms.key-policy")
    assert "kms:*" in message and "ReplicateKey" in message


def test_hardening_checks_ran_on_the_live_resources(clients: Clients, tenant: Built) -> None:
    checked = audit(clients, tenant).to_dict()["checked"]
    assert tenant.key_arn in checked["kms.key-policy"]
    assert tenant.db_arn in checked["rds.engine-supported"]
    assert tenant.db_arn in checked["rds.iam-auth"]
    assert tenant.lb_arn in checked["waf.alb-protected"]
    assert checked["nlb.mail-tls"]
    assert tenant.plan_arn in checked["backup.copy-account"]
    assert any(arn.endswith(f":{tenant.vault_name}") for arn in checked["backup.vault-lock"])


def test_drift_from_the_hardened_shape_is_found(clients: Clients, tenant: Built) -> None:
    region = tenant.region
    client("rds", region).modify_db_instance(
        DBInstanceIdentifier=f"t-{tenant.slug}-db", AutoMinorVersionUpgrade=False,
        EnableIAMDatabaseAuthentication=False, ApplyImmediately=True)
    waf = client("wafv2", region)
    waf.disassociate_web_acl(ResourceArn=tenant.lb_arn)
    elb = client("elbv2", region)
    nlb = next(lb for lb in elb.describe_load_balancers()["LoadBalancers"]
               if lb["LoadBalancerName"] == f"t-{tenant.slug}-mail")
    tg = elb.create_target_group(Name=f"t-{tenant.slug}-imap", Protocol="TCP", Port=143,
                                 VpcId=tenant.vpc_id)["TargetGroups"][0]["TargetGroupArn"]
    plain = elb.create_listener(LoadBalancerArn=nlb["LoadBalancerArn"], Protocol="TCP", Port=143,
                                DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    found = findings(audit(clients, tenant))
    assert ("rds.auto-minor-upgrade", "at-rest", tenant.db_arn) in found
    assert ("rds.iam-auth", "at-rest", tenant.db_arn) in found
    assert ("waf.alb-protected", "in-transit", tenant.lb_arn) in found
    assert ("nlb.mail-tls", "in-transit", plain["Listeners"][0]["ListenerArn"]) in found


def test_a_lock_whose_range_misses_the_plans_retention_is_a_finding(aws: str, slug: str
                                                                    ) -> None:
    """The lock's range is the same for every plan and must hold this plan's retention (14
    days for standard): a maximum under it would fail every job into the vault."""
    built = build_tenant(slug, "de")
    backup = client("backup", built.region)
    vault_arn = backup.describe_backup_vault(BackupVaultName=built.vault_name)["BackupVaultArn"]
    clients = Clients(on_new_client=stub_selection(BackupStubs(), built).attach)
    assert ("backup.vault-lock", "backups", vault_arn) not in findings(audit(clients, built))
    backup.put_backup_vault_lock_configuration(BackupVaultName=built.vault_name,
                                               MinRetentionDays=7, MaxRetentionDays=10,
                                               ChangeableForDays=3)
    clients = Clients(on_new_client=stub_selection(BackupStubs(), built).attach)
    assert ("backup.vault-lock", "backups", vault_arn) in findings(audit(clients, built))


def test_a_copy_in_the_tenants_own_account_is_a_finding(aws: str, slug: str) -> None:
    built = build_tenant(slug, "de")
    own = client("backup", "eu-west-1").create_backup_vault(
        BackupVaultName=f"t-{slug}-own-copy", EncryptionKeyArn=built.key_arn)["BackupVaultArn"]
    plan = client("backup", built.region).create_backup_plan(
        BackupPlan={"BackupPlanName": f"t-{slug}-own", "Rules": [{
            "RuleName": "daily", "TargetBackupVaultName": built.vault_name,
            "ScheduleExpression": "cron(0 3 ? * * *)",
            "CopyActions": [{"DestinationBackupVaultArn": own}]}]},
        BackupPlanTags={t["Key"]: t["Value"] for t in built.tags})
    report = audit(Clients(on_new_client=stub_selection(BackupStubs(), built).attach), built)
    assert ("backup.copy-account", "backups", plan["BackupPlanArn"]) in findings(report)
    assert ("backup.copy-account", "backups", built.plan_arn) not in findings(report)


def test_unknown_tenant_fails_with_inventory_findings(clients: Clients, aws: str) -> None:
    from provisioner.regions import catalogue

    target = Target("nobody", catalogue().resolve("de"))
    from provisioner.audit.runner import audit_tenant

    report = audit_tenant(clients, target, regions=["eu-central-1"])
    rules = {f.rule for f in report.findings}
    assert {"kms.tenant-key", "inventory.present", "backup.daily-rule"} <= rules


def _air_gapped(stubs: BackupStubs, vault_name: str, key_arn: str) -> None:
    """moto has no logically air-gapped vaults: answer DescribeBackupVault for this one."""

    def describe(params: dict[str, Any]) -> dict[str, Any] | None:
        if params["BackupVaultName"] != vault_name:
            return None  # every other vault is read from moto
        return {
            "BackupVaultName": vault_name,
            "VaultType": "LOGICALLY_AIR_GAPPED_BACKUP_VAULT",
            "EncryptionKeyArn": key_arn,  # the stack gives it the backup account's key
        }

    stubs.on("DescribeBackupVault", describe)


def test_single_region_jurisdiction_needs_an_air_gapped_copy(aws: str, slug: str) -> None:
    built = build_tenant(slug, "uk")  # London only: copies stay in eu-west-2
    stubs = stub_selection(BackupStubs(), built)
    report = audit(Clients(on_new_client=stubs.attach), built)
    # The copy vault moto made is an ordinary vault in the same region: not a separate domain.
    assert findings(report) == {("backup.copy-destination", "backups", built.dest_vault_arn)}
    _air_gapped(stubs, built.dest_vault_arn.rsplit(":", 1)[-1], built.backup_key_arn)
    assert audit(Clients(on_new_client=stubs.attach), built).findings == []
