"""The plan as people read it: the resource tree with each resource's security-relevant inputs."""

from __future__ import annotations

from typing import Any

# Inputs worth showing per resource type: the ones the security promises depend on.
SECURITY_INPUTS: dict[str, tuple[str, ...]] = {
    "aws:kms/key:Key": ("enableKeyRotation", "multiRegion", "deletionWindowInDays"),
    "aws:kms/replicaKey:ReplicaKey": ("primaryKeyArn",),
    "aws:kms/alias:Alias": ("name",),
    "aws:ec2/vpc:Vpc": ("cidrBlock",),
    "aws:ec2/subnet:Subnet": ("cidrBlock", "availabilityZone", "mapPublicIpOnLaunch"),
    "aws:ec2/securityGroup:SecurityGroup": ("ingress",),
    "aws:ec2/flowLog:FlowLog": ("trafficType", "logDestinationType"),
    "aws:cloudwatch/logGroup:LogGroup": ("name", "kmsKeyId", "retentionInDays"),
    "aws:rds/parameterGroup:ParameterGroup": ("family", "parameters"),
    "aws:rds/instance:Instance": (
        "engine", "engineVersion", "instanceClass", "storageEncrypted", "kmsKeyId",
        "publiclyAccessible", "manageMasterUserPassword", "multiAz", "backupRetentionPeriod",
        "deletionProtection", "enabledCloudwatchLogsExports",
    ),
    "aws:ec2/instance:Instance": (
        "instanceType", "associatePublicIpAddress", "metadataOptions", "rootBlockDevice",
        "keyName",
    ),
    "aws:ebs/volume:Volume": ("size", "encrypted", "kmsKeyId"),
    "aws:lb/loadBalancer:LoadBalancer": ("internal", "dropInvalidHeaderFields", "accessLogs"),
    "aws:lb/listener:Listener": (
        "port", "protocol", "sslPolicy", "routingHttpResponseStrictTransportSecurityHeaderValue",
        "defaultActions",
    ),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        "rules",
    ),
    "aws:backup/vault:Vault": ("name", "kmsKeyArn"),
    "aws:backup/logicallyAirGappedVault:LogicallyAirGappedVault": ("name", "encryptionKeyArn"),
    "aws:backup/plan:Plan": ("rules",),
    "aws:backup/selection:Selection": ("resources",),
    "aws:acm/certificate:Certificate": (
        "domainName", "subjectAlternativeNames", "validationMethod",
    ),
    # Added with the backup account, transport, monitoring and regional stacks.
    "aws:backup/vaultLockConfiguration:VaultLockConfiguration": (
        "minRetentionDays", "maxRetentionDays", "changeableForDays",
    ),
    "aws:rds/optionGroup:OptionGroup": ("engineName", "majorEngineVersion"),
    "aws:wafv2/webAcl:WebAcl": ("scope", "defaultAction"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("actionsEnabled", "alarmActions"),
    "aws:cloudwatch/eventRule:EventRule": ("eventPattern",),
    "aws:ssm/patchBaseline:PatchBaseline": ("operatingSystem", "approvalRules"),
    "aws:ssm/maintenanceWindow:MaintenanceWindow": ("schedule", "duration"),
    "aws:sns/topic:Topic": ("name", "kmsMasterKeyId"),
    "aws:sns/topicSubscription:TopicSubscription": ("protocol", "endpoint"),
    "aws:cloudtrail/trail:Trail": (
        "isMultiRegionTrail", "includeGlobalServiceEvents", "enableLogFileValidation",
        "enableLogging", "kmsKeyId", "s3BucketName",
    ),
    # The database bootstrap: where it runs and whether it authenticates the database.
    "aws:lambda/function:Function": ("description", "vpcConfig"),
}  # fmt: skip


def short_type(token: str) -> str:
    """`aws:rds/instance:Instance` -> `rds.Instance`; components keep their last part."""
    parts = token.split(":")
    if parts[0] == "aws":
        return f"{parts[1].split('/')[0]}.{parts[2]}"
    return parts[-1]


def _compact(value: Any) -> str:
    import json

    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= 140 else text[:137] + "..."


def render_tree(plan: dict[str, Any], title: str | None = None) -> Any:
    """A rich Tree of the plan: components and resources, with region and key inputs.

    A tenant's plan is titled by its tenant; other plans (a region's) pass their `title`."""
    from rich.tree import Tree

    tenant = plan["tenant"] if title is None else plan["region"]
    root = Tree(
        title or f"[bold]{tenant['slug']}[/] {tenant['location']} ({tenant['region']}, "
        f"{tenant['jurisdiction']}), plan {tenant['plan']}, backups to {tenant['backup_region']}"
        f" ({tenant['backup_mode']})"
    )
    by_urn = {r["urn"]: r for r in plan["resources"]}
    children: dict[str, list[dict[str, Any]]] = {}
    for res in plan["resources"]:
        parent = res["parent"] if res["parent"] in by_urn else ""
        children.setdefault(parent, []).append(res)

    def add(node: Any, parent_urn: str) -> None:
        for res in sorted(children.get(parent_urn, []), key=lambda r: (r["type"], r["name"])):
            region = "" if res["region"] == tenant["region"] else f" [yellow]@{res['region']}[/]"
            branch = node.add(f"[cyan]{short_type(res['type'])}[/] {res['name']}{region}")
            for key in SECURITY_INPUTS.get(res["type"], ()):
                if key in res["inputs"]:
                    branch.add(f"[dim]{key}[/] = {_compact(res['inputs'][key])}", style="")
            add(branch, res["urn"])

    add(root, "")
    return root
