"""Build a compliant tenant with plain boto3 against moto's server, the way the stack would.

Names and settings follow the tenant stack: key alias `alias/tenant-{slug}` (multi-region, rotated,
the stack's own key policy), DB `t-{slug}-db` (MySQL 8.4, `require_secure_transport=1`, IAM
authentication, automatic minor upgrades), encrypted root and data volumes, ALB with HTTPS
(allowed policy, HSTS attribute), HTTP 301 redirect and a WAF web ACL, a mail NLB with TLS
listeners, access logs, encrypted log groups, a locked backup vault + daily plan copying to a
locked vault of the location's backup account (made as the platform's backup role there, which
moto treats as that account) under that account's key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import boto3

from provisioner.promises import BACKUP_SCHEDULE, HSTS_HEADER, MAIL_TLS_PORTS, TLS_POLICY
from provisioner.regions import Location, catalogue
from provisioner.spec import TenantSpec
from stacks.components.keys import tenant_key_policy

from .builder_monitoring import (
    LOG_PARAMETERS,
    add_monitoring,
    db_settings,
    remove_monitoring,
    stub_monitoring,
)
from .stubs import BackupStubs


def client(service: str, region: str) -> Any:
    return boto3.client(service, region_name=region)


def backup_account_client(service: str, loc: Location) -> Any:
    """A client in the location's backup account: moto files what an assumed role of another
    account creates under that account."""
    role = catalogue().platform.backup_role_arn(loc.backup.account_id)
    creds = client("sts", loc.backup.region).assume_role(
        RoleArn=role, RoleSessionName="test-builder")["Credentials"]
    return boto3.client(service, region_name=loc.backup.region,
                        aws_access_key_id=creds["AccessKeyId"],
                        aws_secret_access_key=creds["SecretAccessKey"],
                        aws_session_token=creds["SessionToken"])


@dataclass
class Built:
    slug: str
    location: Location
    account: str
    key_arn: str
    backup_key_arn: str
    db_arn: str
    instance_id: str
    data_volume_id: str
    root_volume_id: str
    lb_arn: str
    https_arn: str
    http_arn: str
    target_group_arn: str
    log_group: str
    bucket: str
    vault_name: str
    dest_vault_arn: str
    plan_id: str
    plan_arn: str
    flow_log_id: str = ""
    vpc_id: str = ""
    subnet_ids: list[str] = field(default_factory=list)
    sg_id: str = ""
    stubs: BackupStubs | None = None  # set by stub_selection: more plans can register there

    @property
    def region(self) -> str:
        return self.location.region

    @property
    def tags(self) -> list[dict[str, str]]:
        return tenant_tags(self.slug, self.location.code)


def database_without_tls(b: Built) -> str:
    """Break the in-transit promise: the database's parameter group accepts plain connections."""
    client("rds", b.region).modify_db_parameter_group(
        DBParameterGroupName=f"t-{b.slug}-mysql8",
        Parameters=[
            {
                "ParameterName": "require_secure_transport",
                "ParameterValue": "0",
                "ApplyMethod": "immediate",
            }
        ],
    )
    return b.db_arn


def tenant_tags(slug: str, location: str, plan: str = "standard") -> list[dict[str, str]]:
    pairs = {"tenant": slug, "location": location, "plan": plan, "managed-by": "provisioner"}
    return [{"Key": k, "Value": v} for k, v in pairs.items()]


def _key(slug: str, loc: Location, tags: list[dict[str, str]], account: str,
         policy: bool) -> str:
    kms = client("kms", loc.region)
    spec = TenantSpec.create(slug, loc.code, "standard")
    key = kms.create_key(
        Description=f"tenant {slug}",
        MultiRegion=True,
        Tags=[{"TagKey": t["Key"], "TagValue": t["Value"]} for t in tags],
        **({"Policy": tenant_key_policy(spec, account)} if policy else {}),
    )["KeyMetadata"]
    kms.enable_key_rotation(KeyId=key["KeyId"])
    kms.create_alias(AliasName=f"alias/tenant-{slug}", TargetKeyId=key["KeyId"])
    return str(key["Arn"])


def _backup_account_vault(slug: str, loc: Location, tags: list[dict[str, str]]
                          ) -> tuple[str, str]:
    """The copy vault and its key, in the backup account: (vault ARN, key ARN)."""
    kms = backup_account_client("kms", loc)
    key = kms.create_key(Description=f"tenant {slug} backup copies")["KeyMetadata"]
    kms.create_alias(AliasName=f"alias/tenant-{slug}", TargetKeyId=key["KeyId"])
    backup = backup_account_client("backup", loc)
    name = f"tenant-{slug}-copy"  # the stack's name: the deletion audit looks for it
    arn = backup.create_backup_vault(
        BackupVaultName=name, EncryptionKeyArn=key["Arn"],
        BackupVaultTags={t["Key"]: t["Value"] for t in tags},
    )["BackupVaultArn"]
    backup.put_backup_vault_lock_configuration(BackupVaultName=name, MinRetentionDays=7,
                                               MaxRetentionDays=35, ChangeableForDays=3)
    return str(arn), str(key["Arn"])


def build_tenant(slug: str = "acme", location: str = "de", key_policy: bool = True) -> Built:
    loc = catalogue().resolve(location)
    region = loc.region
    tags = tenant_tags(slug, loc.code)
    account = client("sts", region).get_caller_identity()["Account"]
    key_arn = _key(slug, loc, tags, account, key_policy)

    ec2 = client("ec2", region)
    vpc = ec2.create_vpc(
        CidrBlock="10.8.0.0/16", TagSpecifications=[{"ResourceType": "vpc", "Tags": tags}]
    )["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.8.{i}.0/24", AvailabilityZone=zone)["Subnet"][
            "SubnetId"
        ]
        for i, zone in enumerate(loc.zones)
    ]
    sg = ec2.create_security_group(GroupName=f"t-{slug}-app", Description="app", VpcId=vpc)[
        "GroupId"
    ]

    rds = client("rds", region)
    rds.create_db_parameter_group(
        DBParameterGroupName=f"t-{slug}-mysql8",
        DBParameterGroupFamily="mysql8.4",
        Description="TLS only",
        Tags=tags,
    )
    rds.modify_db_parameter_group(
        DBParameterGroupName=f"t-{slug}-mysql8",
        Parameters=[
            {
                "ParameterName": "require_secure_transport",
                "ParameterValue": "1",
                "ApplyMethod": "immediate",
            },
            *(
                {"ParameterName": k, "ParameterValue": v, "ApplyMethod": "immediate"}
                for k, v in LOG_PARAMETERS.items()
            ),
        ],
    )
    rds.create_db_subnet_group(
        DBSubnetGroupName=f"t-{slug}-db",
        DBSubnetGroupDescription="db",
        SubnetIds=subnets,
        Tags=tags,
    )
    db = rds.create_db_instance(
        DBInstanceIdentifier=f"t-{slug}-db",
        Engine="mysql",
        EngineVersion="8.4.3",
        AutoMinorVersionUpgrade=True,
        EnableIAMDatabaseAuthentication=True,
        DBInstanceClass="db.t4g.micro",
        AllocatedStorage=20,
        MasterUsername="admin",
        ManageMasterUserPassword=True,
        MasterUserSecretKmsKeyId=key_arn,
        StorageEncrypted=True,
        KmsKeyId=key_arn,
        PubliclyAccessible=False,
        DBParameterGroupName=f"t-{slug}-mysql8",
        DBSubnetGroupName=f"t-{slug}-db",
        VpcSecurityGroupIds=[sg],
        BackupRetentionPeriod=7,
        Tags=tags,
        **db_settings(rds, slug, account),
    )["DBInstance"]

    run = ec2.run_instances(
        ImageId="ami-12c6146b",
        InstanceType="t3.small",
        MinCount=1,
        MaxCount=1,
        SubnetId=subnets[0],
        BlockDeviceMappings=[
            {
                "DeviceName": "/dev/xvda",
                "Ebs": {"VolumeSize": 20, "Encrypted": True, "KmsKeyId": key_arn},
            }
        ],
        TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
    )
    instance_id = run["Instances"][0]["InstanceId"]
    root = ec2.describe_volumes(
        Filters=[{"Name": "attachment.instance-id", "Values": [instance_id]}]
    )["Volumes"][0]["VolumeId"]
    data = ec2.create_volume(
        AvailabilityZone=loc.zones[0],
        Size=20,
        Encrypted=True,
        KmsKeyId=key_arn,
        TagSpecifications=[{"ResourceType": "volume", "Tags": tags}],
    )["VolumeId"]
    ec2.attach_volume(VolumeId=data, InstanceId=instance_id, Device="/dev/sdf")

    s3 = client("s3", region)
    bucket = f"t-{slug}-alb-logs-{account}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tags})

    elb = client("elbv2", region)
    lb = elb.create_load_balancer(
        Name=f"t-{slug}", Subnets=subnets, SecurityGroups=[sg], Scheme="internet-facing", Tags=tags
    )["LoadBalancers"][0]["LoadBalancerArn"]
    elb.modify_load_balancer_attributes(
        LoadBalancerArn=lb,
        Attributes=[
            {"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "true"},
            {"Key": "access_logs.s3.enabled", "Value": "true"},
            {"Key": "access_logs.s3.bucket", "Value": bucket},
        ],
    )
    tg = elb.create_target_group(
        Name=f"t-{slug}-app", Protocol="HTTP", Port=8080, VpcId=vpc, Tags=tags
    )["TargetGroups"][0]["TargetGroupArn"]
    cert = client("acm", region).request_certificate(
        DomainName=f"{slug}.crm.example.com", ValidationMethod="DNS"
    )["CertificateArn"]
    https = elb.create_listener(
        LoadBalancerArn=lb,
        Protocol="HTTPS",
        Port=443,
        SslPolicy=TLS_POLICY,
        Certificates=[{"CertificateArn": cert}],
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}],
    )["Listeners"][0]["ListenerArn"]
    elb.modify_listener_attributes(
        ListenerArn=https,
        Attributes=[
            {
                "Key": "routing.http.response.strict_transport_security.header_value",
                "Value": HSTS_HEADER,
            }
        ],
    )
    http = elb.create_listener(
        LoadBalancerArn=lb,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[
            {
                "Type": "redirect",
                "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"},
            }
        ],
    )["Listeners"][0]["ListenerArn"]

    logs = client("logs", region)
    log_group = f"/tenant/{slug}/app"
    logs.create_log_group(
        logGroupName=log_group, kmsKeyId=key_arn, tags={t["Key"]: t["Value"] for t in tags}
    )
    flow_group = f"/tenant/{slug}/vpc-flow-logs"
    logs.create_log_group(
        logGroupName=flow_group, kmsKeyId=key_arn, tags={t["Key"]: t["Value"] for t in tags}
    )
    flow_log = ec2.create_flow_logs(
        ResourceIds=[vpc],
        ResourceType="VPC",
        TrafficType="ALL",
        LogGroupName=flow_group,
        DeliverLogsPermissionArn=f"arn:aws:iam::{account}:role/t-{slug}-flow-logs",
    )["FlowLogIds"][0]

    backup = client("backup", region)
    vault = f"t-{slug}-vault"
    backup.create_backup_vault(
        BackupVaultName=vault,
        EncryptionKeyArn=key_arn,
        BackupVaultTags={t["Key"]: t["Value"] for t in tags},
    )
    backup.put_backup_vault_lock_configuration(BackupVaultName=vault, MinRetentionDays=7,
                                               MaxRetentionDays=35, ChangeableForDays=3)
    dest_arn, backup_key_arn = _backup_account_vault(slug, loc, tags)
    _firewall_and_mail(slug, loc, tags, lb, subnets, vpc, cert, key_arn)
    plan = backup.create_backup_plan(
        BackupPlan={
            "BackupPlanName": f"t-{slug}-daily",
            "Rules": [
                {
                    "RuleName": "daily",
                    "TargetBackupVaultName": vault,
                    "ScheduleExpression": BACKUP_SCHEDULE,
                    "Lifecycle": {"DeleteAfterDays": 35},
                    "CopyActions": [
                        {
                            "DestinationBackupVaultArn": dest_arn,
                            "Lifecycle": {"DeleteAfterDays": 35},
                        }
                    ],
                }
            ],
        },
        BackupPlanTags={t["Key"]: t["Value"] for t in tags},
    )
    built = Built(
        slug=slug,
        location=loc,
        account=account,
        key_arn=key_arn,
        backup_key_arn=backup_key_arn,
        db_arn=db["DBInstanceArn"],
        instance_id=instance_id,
        data_volume_id=data,
        root_volume_id=root,
        lb_arn=lb,
        https_arn=https,
        http_arn=http,
        target_group_arn=tg,
        log_group=log_group,
        bucket=bucket,
        vault_name=vault,
        dest_vault_arn=dest_arn,
        plan_id=plan["BackupPlanId"],
        plan_arn=plan["BackupPlanArn"],
        subnet_ids=subnets,
        sg_id=sg,
        flow_log_id=flow_log,
        vpc_id=vpc,
    )
    add_monitoring(built, client)
    return built


def _firewall_and_mail(slug: str, loc: Location, tags: list[dict[str, str]], lb: str,
                       subnets: list[str], vpc: str, cert: str, key_arn: str) -> None:
    """The ALB's WAF web ACL (managed groups, blocking, logged) and the mail NLB."""
    region = loc.region
    groups = ("AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet",
              "AWSManagedRulesSQLiRuleSet")
    visibility = {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True,
                  "MetricName": f"tenant-{slug}"}
    waf = client("wafv2", region)
    acl = waf.create_web_acl(
        Name=f"tenant-{slug}", Scope="REGIONAL", DefaultAction={"Allow": {}},
        VisibilityConfig=visibility,
        Rules=[{"Name": g, "Priority": i, "OverrideAction": {"None": {}},
                "Statement": {"ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": g}},
                "VisibilityConfig": {**visibility, "MetricName": g}}
               for i, g in enumerate(groups)],
    )["Summary"]
    waf.associate_web_acl(WebACLArn=acl["ARN"], ResourceArn=lb)
    logs = client("logs", region)
    logs.create_log_group(logGroupName=f"aws-waf-logs-tenant-{slug}", kmsKeyId=key_arn,
                          tags={t["Key"]: t["Value"] for t in tags})
    group_arn = f"arn:aws:logs:{region}:{client('sts', region).get_caller_identity()['Account']}" \
        f":log-group:aws-waf-logs-tenant-{slug}"
    waf.put_logging_configuration(LoggingConfiguration={
        "ResourceArn": acl["ARN"], "LogDestinationConfigs": [group_arn]})
    elb = client("elbv2", region)
    nlb = elb.create_load_balancer(Name=f"t-{slug}-mail", Subnets=subnets, Type="network",
                                   Scheme="internet-facing", Tags=tags)["LoadBalancers"][0]
    bucket = f"t-{slug}-alb-logs-{client('sts', region).get_caller_identity()['Account']}"
    elb.modify_load_balancer_attributes(
        LoadBalancerArn=nlb["LoadBalancerArn"],
        Attributes=[{"Key": "access_logs.s3.enabled", "Value": "true"},
                    {"Key": "access_logs.s3.bucket", "Value": bucket}])
    for port in MAIL_TLS_PORTS:
        tg = elb.create_target_group(Name=f"t-{slug}-mail-{port}", Protocol="TLS", Port=port,
                                     VpcId=vpc, Tags=tags)["TargetGroups"][0]["TargetGroupArn"]
        elb.create_listener(LoadBalancerArn=nlb["LoadBalancerArn"], Protocol="TLS", Port=port,
                            SslPolicy=TLS_POLICY, Certificates=[{"CertificateArn": cert}],
                            DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])


def stub_selection(stubs: BackupStubs, built: Built) -> BackupStubs:
    """The plan's selection (moto has no selections): tag-based, as the stack would make it.

    Answers depend on the plan id asked for, so several tenants can share one BackupStubs.
    """
    stubs.plans[built.plan_id] = built
    built.stubs = stubs

    def role(b: Built) -> str:
        return f"arn:aws:iam::{b.account}:role/t-{b.slug}-backup"

    def list_selections(params: dict[str, Any]) -> dict[str, Any]:
        b = stubs.plans.get(params["BackupPlanId"])
        if b is None:
            return {"BackupSelectionsList": []}
        return {
            "BackupSelectionsList": [
                {
                    "SelectionId": f"sel-{b.slug}",
                    "SelectionName": f"t-{b.slug}-all",
                    "BackupPlanId": b.plan_id,
                    "IamRoleArn": role(b),
                }
            ]
        }

    def get_selection(params: dict[str, Any]) -> dict[str, Any]:
        b = stubs.plans[params["BackupPlanId"]]
        return {
            "BackupPlanId": b.plan_id,
            "SelectionId": params["SelectionId"],
            "BackupSelection": {
                "SelectionName": f"t-{b.slug}-all",
                "IamRoleArn": role(b),
                "Resources": [],
                "ListOfTags": [
                    {
                        "ConditionType": "STRINGEQUALS",
                        "ConditionKey": "tenant",
                        "ConditionValue": b.slug,
                    }
                ],
            },
        }

    stubs.on("ListBackupSelections", list_selections)
    stubs.on("GetBackupSelection", get_selection)
    return stub_monitoring(stubs)


def destroy_tenant(b: Built, keep: tuple[str, ...] = ()) -> None:
    """Delete what `pulumi destroy` would, and schedule the key's deletion (7 days).

    `keep` names parts to leave behind, to prove the deletion audit notices them.
    """
    region = b.region
    ec2 = client("ec2", region)
    ec2.detach_volume(VolumeId=b.data_volume_id, InstanceId=b.instance_id)  # moto needs both
    ec2.terminate_instances(InstanceIds=[b.instance_id])
    if "volume" not in keep:
        ec2.delete_volume(VolumeId=b.data_volume_id)
    rds = client("rds", region)
    rds.delete_db_instance(
        DBInstanceIdentifier=f"t-{b.slug}-db", SkipFinalSnapshot=True, DeleteAutomatedBackups=True
    )
    elb = client("elbv2", region)
    elb.delete_listener(ListenerArn=b.https_arn)
    elb.delete_listener(ListenerArn=b.http_arn)
    elb.delete_load_balancer(LoadBalancerArn=b.lb_arn)
    elb.delete_target_group(TargetGroupArn=b.target_group_arn)
    s3 = client("s3", region)
    s3.delete_bucket(Bucket=b.bucket)
    logs = client("logs", region)
    logs.delete_log_group(logGroupName=b.log_group)
    logs.delete_log_group(logGroupName=f"/tenant/{b.slug}/vpc-flow-logs")
    remove_monitoring(b, client)
    ec2.delete_flow_logs(FlowLogIds=[b.flow_log_id])
    for subnet in b.subnet_ids:
        ec2.delete_subnet(SubnetId=subnet)
    ec2.delete_security_group(GroupId=b.sg_id)
    ec2.delete_vpc(VpcId=b.vpc_id)
    backup = client("backup", region)
    backup.delete_backup_plan(BackupPlanId=b.plan_id)
    mail = elb.describe_load_balancers(Names=[f"t-{b.slug}-mail"])["LoadBalancers"][0]
    for listener in elb.describe_listeners(LoadBalancerArn=mail["LoadBalancerArn"])["Listeners"]:
        elb.delete_listener(ListenerArn=listener["ListenerArn"])
    elb.delete_load_balancer(LoadBalancerArn=mail["LoadBalancerArn"])
    for group in elb.describe_target_groups()["TargetGroups"]:
        if group["TargetGroupName"].startswith(f"t-{b.slug}-mail-"):
            elb.delete_target_group(TargetGroupArn=group["TargetGroupArn"])
    waf = client("wafv2", region)
    for acl in waf.list_web_acls(Scope="REGIONAL")["WebACLs"]:
        if acl["Name"] == f"tenant-{b.slug}":
            waf.delete_web_acl(Name=acl["Name"], Scope="REGIONAL", Id=acl["Id"],
                               LockToken=acl["LockToken"])
    logs.delete_log_group(logGroupName=f"aws-waf-logs-tenant-{b.slug}")
    # The locked vaults stay (the stack retains them); their recovery points expire.
    key_id = b.key_arn.rsplit("/", 1)[-1]
    if "key" not in keep:
        client("kms", region).schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    if "backup-key" not in keep:
        backup_account_client("kms", b.location).schedule_key_deletion(
            KeyId=b.backup_key_arn.rsplit("/", 1)[-1], PendingWindowInDays=7)
