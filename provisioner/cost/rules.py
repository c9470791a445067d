"""How AWS bills each resource type, from the resource's own inputs.

A rule reads the planned inputs (instance type, storage, Multi-AZ, retention, ...) and the
plan's usage assumptions, and charges price keys of the snapshot. Price keys:

    ec2.instance_hour[type]          ebs.gb_month[volume type]      vpc.public_ipv4_hour
    rds.instance_hour[engine|class|Single-AZ or Multi-AZ]           rds.backup_gb_month
    rds.storage_gb_month[storage type|Single-AZ or Multi-AZ]        rds.performance_insights
    elb.alb_hour, elb.alb_lcu_hour, elb.nlb_hour, elb.nlb_lcu_hour  transfer.internet_out_gb
    vpc.nat_gateway_hour, vpc.nat_gateway_gb                        kms.key_month, kms.requests_10k
    logs.ingest_gb, logs.storage_gb_month                           cloudwatch.alarm_month[resol.]
    waf.web_acl_month, waf.rule_month, waf.requests_million         s3.standard_gb_month
    secretsmanager.secret_month, secretsmanager.api_10k             route53.hosted_zone_month
    backup.warm_gb_month, backup.cross_region_gb                    route53.queries_million

Multi-AZ: AWS bills a Multi-AZ DB instance for the primary and the standby, instance hours and
storage both (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_OnDemandDBInstances.html).
When the snapshot has no Multi-AZ price but has the Single-AZ one, the line charges two
instances' worth at the Single-AZ price and says so.
"""

from __future__ import annotations

from typing import Any

from provisioner.cost.estimate import Pricer, Resource, Rule, plan_storage_gib

MULTI_AZ_DOC = (
    "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_OnDemandDBInstances.html"
)
GP3_BASELINE_IOPS = 3000
GP3_BASELINE_MIBPS = 125
PI_FREE_DAYS = 7  # Performance Insights keeps 7 days at no charge


def _num(inputs: Any, key: str, default: float = 0.0) -> float:
    value = inputs.get(key) if isinstance(inputs, dict) else None
    return (
        float(value) if isinstance(value, int | float) and not isinstance(value, bool) else default
    )


def _volume(
    res: Resource, p: Pricer, what: str, size: float, kind: str, iops: float, throughput: float
) -> None:
    p.charge(res, f"{what}: {size:g} GiB {kind}", "ebs.gb_month", size, "GB-month", kind)
    if kind == "gp3" and (iops > GP3_BASELINE_IOPS or throughput > GP3_BASELINE_MIBPS):
        p.unpriced(
            res,
            f"{what}: gp3 IOPS/throughput above the included baseline",
            "provisioned gp3 performance beyond 3,000 IOPS / 125 MiB/s is not in the snapshot",
        )


def ec2_instance(res: Resource, p: Pricer) -> None:
    kind = str(res.inputs.get("instanceType", ""))
    p.charge(res, f"{kind} instance, on-demand Linux", "ec2.instance_hour", p.hours, "hour", kind)
    root = res.inputs.get("rootBlockDevice") or {}
    size = _num(root, "volumeSize")
    if size:
        _volume(
            res,
            p,
            "root volume",
            size,
            str(root.get("volumeType") or "gp2"),
            _num(root, "iops"),
            _num(root, "throughput"),
        )
    else:
        p.unpriced(res, "root volume", "its size comes from the machine image, not the plan")
    if res.inputs.get("associatePublicIpAddress") is True:
        p.charge(res, "public IPv4 address", "vpc.public_ipv4_hour", p.hours, "address-hour")


def ebs_volume(res: Resource, p: Pricer) -> None:
    _volume(
        res,
        p,
        "volume",
        _num(res.inputs, "size"),
        str(res.inputs.get("type") or "gp2"),
        _num(res.inputs, "iops"),
        _num(res.inputs, "throughput"),
    )


def _rds_charge(
    res: Resource,
    p: Pricer,
    what: str,
    key: str,
    quantity: float,
    unit: str,
    variant: str,
    multi_az: bool,
) -> None:
    """Charge a Multi-AZ price if the snapshot has one, else two Single-AZ units (see above)."""
    if not multi_az:
        p.charge(res, what, key, quantity, unit, f"{variant}|Single-AZ")
    elif p.snapshot.lookup(res.region, key, f"{variant}|Multi-AZ") is not None:
        p.charge(res, f"{what}, Multi-AZ", key, quantity, unit, f"{variant}|Multi-AZ")
    else:
        p.charge(
            res,
            f"{what}, Multi-AZ: primary + standby at the Single-AZ price",
            key,
            2 * quantity,
            unit,
            f"{variant}|Single-AZ",
            basis=f"Multi-AZ bills primary and standby: {MULTI_AZ_DOC}",
        )


def rds_instance(res: Resource, p: Pricer) -> None:
    i = res.inputs
    engine = str(i.get("engine", ""))
    klass = str(i.get("instanceClass", ""))
    multi_az = i.get("multiAz") is True
    _rds_charge(
        res,
        p,
        f"{klass} {engine} instance",
        "rds.instance_hour",
        p.hours,
        "hour",
        f"{engine}|{klass}",
        multi_az,
    )
    storage = _num(i, "allocatedStorage")
    kind = str(i.get("storageType") or "gp2")
    _rds_charge(
        res,
        p,
        f"{storage:g} GiB {kind} storage",
        "rds.storage_gb_month",
        storage,
        "GB-month",
        kind,
        multi_az,
    )
    if kind == "gp3" and (
        _num(i, "iops") > GP3_BASELINE_IOPS or _num(i, "storageThroughput") > GP3_BASELINE_MIBPS
    ):
        p.unpriced(
            res,
            "gp3 IOPS/throughput above the included baseline",
            "provisioned RDS gp3 performance is not in the snapshot",
        )
    # Automated backups: free up to the provisioned storage, billed beyond it.
    used = storage * p.figure("data_used_fraction", res)
    kept = used * (1 + p.figure("daily_change_fraction", res) * _num(i, "backupRetentionPeriod"))
    beyond = max(0.0, kept - storage)
    if beyond:
        p.charge(
            res,
            "automated backups beyond the free allowance",
            "rds.backup_gb_month",
            beyond,
            "GB-month",
        )
    else:
        p.free(res, f"automated backups (~{kept:.0f} GB) fit the free allowance of {storage:g} GB")
    if i.get("performanceInsightsEnabled") is True:
        days = _num(i, "performanceInsightsRetentionPeriod", PI_FREE_DAYS)
        if days > PI_FREE_DAYS:
            p.unpriced(
                res,
                f"Performance Insights, {days:g} days kept",
                "retention beyond the free 7 days is not in the snapshot",
            )
        else:
            p.free(res, "Performance Insights keeps 7 days at no charge")
    if i.get("manageMasterUserPassword") is True:
        p.charge(
            res,
            "master password kept by RDS in Secrets Manager",
            "secretsmanager.secret_month",
            1,
            "secret-month",
        )
        p.charge(
            res,
            "Secrets Manager API calls",
            "secretsmanager.api_10k",
            p.figure("secrets_api_calls_per_month", res) / 10_000,
            "10,000 API calls",
        )


def load_balancer(res: Resource, p: Pricer) -> None:
    kind = str(res.inputs.get("loadBalancerType") or "application")
    prefix = {"application": "alb", "network": "nlb"}.get(kind)
    if prefix is None:
        p.unpriced(res, f"{kind} load balancer", "no rule for this load balancer type")
        return
    p.charge(res, f"{kind} load balancer", f"elb.{prefix}_hour", p.hours, "hour")
    lcu = p.figure("lb_lcu_average", res) * p.hours
    p.charge(res, "capacity units (usage assumption)", f"elb.{prefix}_lcu_hour", lcu, "LCU-hour")
    if res.inputs.get("internal") is not True:
        addresses = len(res.inputs.get("subnets") or res.inputs.get("subnetMappings") or []) or 1
        p.charge(
            res,
            f"{addresses} public IPv4 address(es), at least one per zone",
            "vpc.public_ipv4_hour",
            addresses * p.hours,
            "address-hour",
        )
        p.charge(
            res,
            "data transfer out to the internet (usage assumption)",
            "transfer.internet_out_gb",
            p.figure("internet_out_gb", res),
            "GB",
        )


def nat_gateway(res: Resource, p: Pricer) -> None:
    p.charge(res, "NAT gateway", "vpc.nat_gateway_hour", p.hours, "hour")
    p.charge(
        res,
        "data processed (usage assumption)",
        "vpc.nat_gateway_gb",
        p.figure("nat_gb_processed", res),
        "GB processed",
    )


def elastic_ip(res: Resource, p: Pricer) -> None:
    p.charge(res, "public IPv4 address", "vpc.public_ipv4_hour", p.hours, "address-hour")


def kms_key(res: Resource, p: Pricer) -> None:
    p.charge(res, "customer managed key", "kms.key_month", 1, "key-month")
    if res.type == "aws:kms/key:Key":  # requests are counted once, on the primary key
        p.charge(
            res,
            "requests (usage assumption)",
            "kms.requests_10k",
            p.figure("kms_requests_per_month", res) / 10_000,
            "10,000 requests",
        )


def log_group(res: Resource, p: Pricer) -> None:
    ingest = p.figure("log_ingest_gb", res)
    p.charge(res, "log ingestion (usage assumption)", "logs.ingest_gb", ingest, "GB ingested")
    days = _num(res.inputs, "retentionInDays")
    if days <= 0:
        p.unpriced(res, "log storage", "kept forever: stored volume grows without bound")
        return
    # Steady state: each month's ingestion is kept `days` days.
    p.charge(
        res,
        f"log storage, {days:g} days kept",
        "logs.storage_gb_month",
        ingest * days / 30,
        "GB-month",
    )


def metric_alarm(res: Resource, p: Pricer) -> None:
    period = _num(res.inputs, "period", 60)
    resolution = "high-resolution" if period < 60 else "standard"
    p.charge(res, f"{resolution} alarm", "cloudwatch.alarm_month", 1, "alarm-month", resolution)


def waf_web_acl(res: Resource, p: Pricer) -> None:
    rules = res.inputs.get("rules") or []
    p.charge(res, "web ACL", "waf.web_acl_month", 1, "web-ACL-month")
    p.charge(res, f"{len(rules)} rule(s)", "waf.rule_month", len(rules), "rule-month")
    p.charge(
        res,
        "requests inspected (usage assumption)",
        "waf.requests_million",
        p.figure("requests_per_month", res) / 1e6,
        "million requests",
    )
    if any(
        isinstance(r, dict)
        and "managedRuleGroupStatement" in (r.get("statement") or {})
        and (r["statement"]["managedRuleGroupStatement"].get("name") or "").startswith(
            ("AWSManagedRulesBotControl", "AWSManagedRulesATP", "AWSManagedRulesACFP")
        )
        for r in rules
    ):
        p.unpriced(
            res,
            "paid managed rule group (Bot Control / Fraud Control)",
            "its subscription and per-request fees are not in the snapshot",
        )


def secret(res: Resource, p: Pricer) -> None:
    p.charge(res, "secret", "secretsmanager.secret_month", 1, "secret-month")


def bucket(res: Resource, p: Pricer) -> None:
    stored = p.figure("bucket_gb_stored", res)
    p.charge(
        res, "S3 Standard storage (usage assumption)", "s3.standard_gb_month", stored, "GB-month"
    )


def hosted_zone(res: Resource, p: Pricer) -> None:
    p.charge(res, "hosted zone", "route53.hosted_zone_month", 1, "hosted-zone-month")


def dns_record(res: Resource, p: Pricer) -> None:
    if res.inputs.get("aliases"):
        p.free(
            res,
            "records are included with the hosted zone; queries to alias records that"
            " point at AWS resources are not billed",
        )
        return
    queries = p.figure("dns_queries_per_month", res)
    if queries:
        p.charge(
            res,
            "DNS queries (usage assumption)",
            "route53.queries_million",
            queries / 1e6,
            "million queries",
        )
    else:
        p.free(res, "records are included with the hosted zone; no queries assumed")


def backup_plan(res: Resource, p: Pricer) -> None:
    """Recovery points of every rule, in the vault's region and in each copy's destination."""
    protected = plan_storage_gib(p.plan.get("resources", []))
    used = protected * p.figure("data_used_fraction", res)
    change = p.figure("daily_change_fraction", res)
    for rule in res.inputs.get("rules") or []:
        name = rule.get("ruleName", "rule")
        days = _num(rule.get("lifecycle") or {}, "deleteAfter")
        kept = used * (1 + change * days)
        p.charge(
            res,
            f"{name}: recovery points, {days:g} days kept (~{kept:.0f} GB)",
            "backup.warm_gb_month",
            kept,
            "GB-month",
        )
        for copy in rule.get("copyActions") or []:
            dest = _arn_region(str(copy.get("destinationVaultArn", ""))) or res.region
            copy_days = _num(copy.get("lifecycle") or {}, "deleteAfter", days)
            copied = used * (1 + change * copy_days)
            p.charge(
                res,
                f"{name}: copies in {dest}, {copy_days:g} days kept",
                "backup.warm_gb_month",
                copied,
                "GB-month",
                region=dest,
            )
            if dest != res.region:
                p.charge(
                    res,
                    f"{name}: daily copy transfer to {dest}",
                    "backup.cross_region_gb",
                    used * change * 30,
                    "GB transferred",
                )


def _arn_region(arn: str) -> str:
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 else ""


RULES: dict[str, Rule] = {
    "aws:ec2/instance:Instance": ec2_instance,
    "aws:ebs/volume:Volume": ebs_volume,
    "aws:rds/instance:Instance": rds_instance,
    "aws:lb/loadBalancer:LoadBalancer": load_balancer,
    "aws:alb/loadBalancer:LoadBalancer": load_balancer,
    "aws:ec2/natGateway:NatGateway": nat_gateway,
    "aws:ec2/eip:Eip": elastic_ip,
    "aws:kms/key:Key": kms_key,
    "aws:kms/replicaKey:ReplicaKey": kms_key,
    "aws:cloudwatch/logGroup:LogGroup": log_group,
    "aws:cloudwatch/metricAlarm:MetricAlarm": metric_alarm,
    "aws:wafv2/webAcl:WebAcl": waf_web_acl,
    "aws:secretsmanager/secret:Secret": secret,
    "aws:s3/bucket:Bucket": bucket,
    "aws:s3/bucketV2:BucketV2": bucket,
    "aws:route53/zone:Zone": hosted_zone,
    "aws:route53/record:Record": dns_record,
    "aws:backup/plan:Plan": backup_plan,
}

_PRICED_ELSEWHERE = "billed through another resource of the plan (priced there)"
_BUCKET = "configuration of a bucket"
_LOG_DELIVERY = "delivery is billed as ingestion into its log group (priced there)"
_NETWORK = "VPC networking objects carry no charge of their own"
_SSM = "Systems Manager on EC2 (patching, associations, windows, documents) has no extra charge"

# Resources AWS does not bill by themselves. Keys ending in "/" or ":" are prefixes.
FREE: dict[str, str] = {
    "pulumi:providers:": "a Pulumi provider, not an AWS resource",
    "aws:iam/": "IAM is offered at no additional charge",
    "aws:ec2/vpc:Vpc": _NETWORK,
    "aws:ec2/subnet:Subnet": _NETWORK,
    "aws:ec2/routeTable:RouteTable": _NETWORK,
    "aws:ec2/routeTableAssociation:RouteTableAssociation": _NETWORK,
    "aws:ec2/route:Route": _NETWORK,
    "aws:ec2/internetGateway:InternetGateway": _NETWORK,
    "aws:ec2/securityGroup:SecurityGroup": _NETWORK,
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": _NETWORK,
    "aws:ec2/securityGroupRule:SecurityGroupRule": _NETWORK,
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": _NETWORK,
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": _NETWORK,
    "aws:ec2/volumeAttachment:VolumeAttachment": "attaching a volume is not billed",
    "aws:ec2transitgateway/instanceState:InstanceState": "the instance's power state",
    "aws:ec2/flowLog:FlowLog": _LOG_DELIVERY,
    # AWS Lambda bills requests and compute time only (aws.amazon.com/lambda/pricing); the
    # database bootstrap runs once per database for seconds, inside the monthly free requests.
    "aws:lambda/function:Function": "Lambda bills only invocations; the bootstrap's one run"
                                    " per database is within the free tier",
    "aws:lambda/invocation:Invocation": "one run of the bootstrap function (see the function)",
    "aws:rds/parameterGroup:ParameterGroup": "configuration of the DB instance",
    "aws:rds/subnetGroup:SubnetGroup": "configuration of the DB instance",
    "aws:acm/certificate:Certificate": "public certificates issued by ACM carry no charge",
    "aws:acm/certificateValidation:CertificateValidation": "a wait for validation, not a resource",
    "aws:lb/listener:Listener": _PRICED_ELSEWHERE,
    "aws:lb/listenerRule:ListenerRule": _PRICED_ELSEWHERE,
    "aws:lb/targetGroup:TargetGroup": _PRICED_ELSEWHERE,
    "aws:lb/targetGroupAttachment:TargetGroupAttachment": _PRICED_ELSEWHERE,
    "aws:kms/alias:Alias": "aliases carry no charge",
    "aws:s3/bucketPolicy:BucketPolicy": _BUCKET,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": _BUCKET,
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": _BUCKET,
    "aws:s3/bucketServerSideEncryptionConfiguration:": _BUCKET,  # a prefix: the type is long
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": _BUCKET,
    "aws:s3/bucketVersioning:BucketVersioning": _BUCKET,
    "aws:backup/selection:Selection": "recovery points are priced on the backup plan",
    "aws:backup/vault:Vault": "recovery points are priced on the backup plan",
    "aws:backup/vaultLockConfiguration:VaultLockConfiguration": "configuration of a vault",
    "aws:wafv2/webAclAssociation:WebAclAssociation": "the web ACL is priced itself",
    "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration": _LOG_DELIVERY,
    "aws:cloudwatch/logResourcePolicy:LogResourcePolicy": "configuration of CloudWatch Logs",
    "aws:backup/vaultPolicy:VaultPolicy": "configuration of a vault",
    "aws:rds/optionGroup:OptionGroup": "configuration of the DB instance",
    # Systems Manager on EC2: Patch Manager, State Manager (associations), Maintenance Windows,
    # documents and Session Manager carry no additional charge
    # (https://aws.amazon.com/systems-manager/pricing/); what they run is billed where it runs.
    "aws:ssm/document:Document": _SSM,
    "aws:ssm/association:Association": _SSM,
    "aws:ssm/maintenanceWindow:MaintenanceWindow": _SSM,
    "aws:ssm/maintenanceWindowTarget:MaintenanceWindowTarget": _SSM,
    "aws:ssm/maintenanceWindowTask:MaintenanceWindowTask": _SSM,
    "aws:ssm/patchBaseline:PatchBaseline": _SSM,
    "aws:ssm/patchGroup:PatchGroup": _SSM,
}
