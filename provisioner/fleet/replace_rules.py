"""Which input changes force Pulumi to replace a resource, for the types the tenant stack uses.

pulumi-aws is bridged from the Terraform AWS provider: an input whose Terraform schema says
`ForceNew: true` ("Changing this forces a new resource to be created" in the provider's
documentation) makes Pulumi delete and create the resource instead of updating it. The Pulumi
SDK does not expose that flag and the provider schema ships only inside the provider plugin
(not installed here), so this table is kept by hand from the Terraform provider's resource
documentation (registry.terraform.io/providers/hashicorp/aws, resource pages, and
internal/service/*/ schemas on GitHub), for the inputs the tenant stack sets. Where unsure, an
entry is listed: a false "replace" costs a reviewer a look, a missed one can cost data.
`provisioner fleet preview` (a real `pulumi preview`) is the authority where it can run.

Paths are camelCase input paths as the plan records them; an entry matches the path itself and
anything below it (`rootBlockDevice.encrypted` matches `rootBlockDevice.encrypted` only,
`resources` matches `resources[0]`).
"""

from __future__ import annotations

from typing import Any

# Terraform AWS provider v6 "enhanced region support": a resource lives in its region, so a
# different `region` is a different resource.
ANY_AWS_RESOURCE = ("region",)

REPLACE_ON_CHANGE: dict[str, tuple[str, ...]] = {
    "aws:rds/instance:Instance": (
        "identifier", "identifierPrefix", "engine", "kmsKeyId", "storageEncrypted",
        "availabilityZone", "dbName", "username", "characterSetName", "ncharCharacterSetName",
        "timezone", "snapshotIdentifier", "replicateSourceDb", "restoreToPointInTime",
        "s3Import", "customIamInstanceProfile",
    ),
    "aws:rds/parameterGroup:ParameterGroup": ("name", "namePrefix", "family", "description"),
    "aws:rds/subnetGroup:SubnetGroup": ("name", "namePrefix"),
    # ModifyOptionGroup changes options only: the engine and its major version are fixed.
    "aws:rds/optionGroup:OptionGroup": ("name", "namePrefix", "engineName", "majorEngineVersion",
                                        "optionGroupDescription"),
    "aws:ebs/volume:Volume": (
        "availabilityZone", "encrypted", "kmsKeyId", "snapshotId", "outpostArn",
    ),
    "aws:ec2/volumeAttachment:VolumeAttachment": ("deviceName", "instanceId", "volumeId"),
    "aws:ec2/instance:Instance": (
        "ami", "subnetId", "availabilityZone", "rootBlockDevice.encrypted",
        "rootBlockDevice.kmsKeyId", "associatePublicIpAddress", "keyName", "privateIp",
        "placementGroup", "tenancy", "hostId", "ebsBlockDevices", "ephemeralBlockDevices",
        "networkInterfaces", "ipv6Addresses", "cpuOptions", "launchTemplate",
    ),
    "aws:ec2/launchTemplate:LaunchTemplate": ("name", "namePrefix"),
    "aws:kms/key:Key": ("multiRegion", "customerMasterKeySpec", "keyUsage", "customKeyStoreId",
                        "xksKeyId"),
    "aws:kms/replicaKey:ReplicaKey": ("primaryKeyArn",),
    "aws:kms/alias:Alias": ("name", "namePrefix"),
    "aws:backup/vault:Vault": ("name", "kmsKeyArn"),
    "aws:backup/logicallyAirGappedVault:LogicallyAirGappedVault": (
        "name", "minRetentionDays", "maxRetentionDays",
    ),
    # No update at all: a new lock configuration is a new resource (and a compliance-mode lock
    # past its grace time cannot be removed, see diff.LOCKED_FOREVER).
    "aws:backup/vaultLockConfiguration:VaultLockConfiguration": (
        "backupVaultName", "changeableForDays", "maxRetentionDays", "minRetentionDays",
    ),
    "aws:backup/selection:Selection": (
        "name", "planId", "iamRoleArn", "resources", "notResources", "selectionTags",
        "conditions",
    ),
    "aws:ec2/vpc:Vpc": ("cidrBlock", "ipv4IpamPoolId", "ipv4NetmaskLength"),
    "aws:ec2/subnet:Subnet": ("cidrBlock", "availabilityZone", "availabilityZoneId", "vpcId",
                              "outpostArn"),
    "aws:ec2/securityGroup:SecurityGroup": ("name", "namePrefix", "description", "vpcId"),
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": ("vpcId",),
    "aws:ec2/routeTable:RouteTable": ("vpcId",),
    "aws:ec2/routeTableAssociation:RouteTableAssociation": ("subnetId", "gatewayId"),
    "aws:ec2/natGateway:NatGateway": ("allocationId", "subnetId", "connectivityType",
                                      "privateIp"),
    "aws:ec2/eip:Eip": ("domain", "publicIpv4Pool", "customerOwnedIpv4Pool", "address"),
    "aws:ec2/flowLog:FlowLog": (
        "vpcId", "subnetId", "eniId", "trafficType", "logDestination", "logDestinationType",
        "iamRoleArn", "maxAggregationInterval", "logFormat", "destinationOptions",
    ),
    "aws:lb/loadBalancer:LoadBalancer": ("name", "namePrefix", "internal", "loadBalancerType"),
    "aws:lb/targetGroup:TargetGroup": ("name", "namePrefix", "port", "protocol", "vpcId",
                                       "targetType", "protocolVersion"),
    "aws:lb/targetGroupAttachment:TargetGroupAttachment": ("targetGroupArn", "targetId", "port",
                                                           "availabilityZone"),
    "aws:lb/listener:Listener": ("loadBalancerArn",),
    "aws:acm/certificate:Certificate": ("domainName", "subjectAlternativeNames",
                                        "keyAlgorithm", "privateKey", "certificateAuthorityArn"),
    "aws:acm/certificateValidation:CertificateValidation": ("certificateArn",
                                                            "validationRecordFqdns"),
    "aws:route53/record:Record": ("zoneId", "name", "type", "setIdentifier"),
    "aws:s3/bucket:Bucket": ("bucket", "bucketPrefix"),
    "aws:cloudwatch/logGroup:LogGroup": ("name", "namePrefix", "logGroupClass"),
    "aws:iam/role:Role": ("name", "namePrefix", "path"),
    "aws:iam/rolePolicy:RolePolicy": ("name", "namePrefix", "role"),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": ("role", "policyArn"),
    "aws:iam/instanceProfile:InstanceProfile": ("name", "namePrefix", "path"),
    "aws:ssm/parameter:Parameter": ("name",),
    "aws:wafv2/webAclAssociation:WebAclAssociation": ("resourceArn", "webAclArn"),
}  # fmt: skip

# Every bucket-level S3 configuration resource is bound to its bucket.
for _kind in (
    "bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "bucketOwnershipControls:BucketOwnershipControls",
    "bucketPolicy:BucketPolicy",
    "bucketPublicAccessBlock:BucketPublicAccessBlock",
    "bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "bucketVersioning:BucketVersioning",
    "bucketLogging:BucketLogging",
):
    REPLACE_ON_CHANGE[f"aws:s3/{_kind}"] = ("bucket", "expectedBucketOwner")


def _matches(path: str, rule: str) -> bool:
    return path == rule or path.startswith((rule + ".", rule + "["))


def replacement_reasons(type_token: str, paths: list[str], new_inputs: dict[str, Any]) -> list[str]:
    """The changed input paths that force `type_token` to be replaced (empty: an update)."""
    rules = REPLACE_ON_CHANGE.get(type_token, ())
    if type_token.startswith("aws:"):
        rules = (*rules, *ANY_AWS_RESOURCE)
    reasons = [p for p in paths if any(_matches(p, rule) for rule in rules)]
    # User data changes stop and start an instance, unless userDataReplaceOnChange asks for a
    # replacement (pulumi-aws ec2.Instance docs).
    if type_token == "aws:ec2/instance:Instance" and new_inputs.get("userDataReplaceOnChange"):
        reasons += [p for p in paths if p in ("userData", "userDataBase64")]
    return sorted(set(reasons))
