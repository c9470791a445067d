"""Isolation and exposure: nothing public but the load balancer, and nothing shared.

The load balancer is the tenant's only door: the database, instances and buckets are private,
the instance needs IMDSv2 and has no SSH key, and the only internet ingress is TCP 80/443 on the
load balancer's security group.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from typing import Any

from provisioner.policy.graph import Graph, Resource, as_list, as_number, truthy
from provisioner.policy.model import Rule, Severity, Violation
from provisioner.promises import MAIL_TLS_PORTS

DB_INSTANCE = "aws:rds/instance:Instance"
DB_CLUSTER_INSTANCE = "aws:rds/clusterInstance:ClusterInstance"
INSTANCE = "aws:ec2/instance:Instance"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
SUBNET = "aws:ec2/subnet:Subnet"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ROUTE = "aws:ec2/route:Route"
ROUTE_TABLE_ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
INTERNET_GATEWAY = "aws:ec2/internetGateway:InternetGateway"
DB_SUBNET_GROUP = "aws:rds/subnetGroup:SubnetGroup"
EIP = "aws:ec2/eip:Eip"
EIP_ASSOCIATION = "aws:ec2/eipAssociation:EipAssociation"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
DEFAULT_SECURITY_GROUP = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
SG_TYPES = (SECURITY_GROUP, DEFAULT_SECURITY_GROUP)
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS_RULE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
LOAD_BALANCERS = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
VPC = "aws:ec2/vpc:Vpc"
KEY_PAIR = "aws:ec2/keyPair:KeyPair"
BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
PAB_FIELDS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
# Anything that joins the tenant's network or resources to another's.
SHARING_TYPES = (
    "aws:ec2/vpcPeeringConnection:VpcPeeringConnection",
    "aws:ec2/vpcPeeringConnectionAccepter:VpcPeeringConnectionAccepter",
    "aws:ec2transitgateway/vpcAttachment:VpcAttachment",
    "aws:ec2/vpnConnection:VpnConnection",
    "aws:ec2/vpnGateway:VpnGateway",
    "aws:ec2/customerGateway:CustomerGateway",
    "aws:ec2/vpcEndpointService:VpcEndpointService",
    "aws:ram/resourceShare:ResourceShare",
    "aws:ram/principalAssociation:PrincipalAssociation",
)
WEB_PORTS = (80, 443)
MAIL_PORTS = MAIL_TLS_PORTS  # implicit-TLS mail, on a network load balancer only


def check_database_private(g: Graph) -> Iterator[Violation]:
    for res in g.of_type(DB_INSTANCE, DB_CLUSTER_INSTANCE):
        if truthy(res.inputs.get("publiclyAccessible")):
            yield Violation(res.urn, f"database {res.name} is publicly accessible:"
                                     " set publiclyAccessible=false")


def _public_subnets(g: Graph) -> set[str]:
    """Urns of subnets that give instances public addresses or route to an internet gateway."""
    public = {s.urn for s in g.of_type(SUBNET) if truthy(s.inputs.get("mapPublicIpOnLaunch"))}
    igw_tables: set[str] = set()
    for table in g.of_type(ROUTE_TABLE):
        if any(g.referents(r.get("gatewayId"), (INTERNET_GATEWAY,)) for r in table.items("routes")):
            igw_tables.add(table.urn)
    for route in g.of_type(ROUTE):
        if g.referents(route.inputs.get("gatewayId"), (INTERNET_GATEWAY,)):
            igw_tables.update(t.urn for t in g.referents(route.inputs.get("routeTableId"),
                                                         (ROUTE_TABLE,)))
    for assoc in g.of_type(ROUTE_TABLE_ASSOCIATION):
        tables = g.referents(assoc.inputs.get("routeTableId"), (ROUTE_TABLE,))
        if any(t.urn in igw_tables for t in tables):
            public.update(s.urn for s in g.referents(assoc.inputs.get("subnetId"), (SUBNET,)))
    return public


def check_no_public_ips(g: Graph) -> Iterator[Violation]:
    auto_public = {s.urn for s in g.of_type(SUBNET) if truthy(s.inputs.get("mapPublicIpOnLaunch"))}
    instances = g.of_type(INSTANCE)
    for res in instances:
        flag = res.inputs.get("associatePublicIpAddress")
        subnets = g.referents(res.inputs.get("subnetId"), (SUBNET,))
        if truthy(flag) or (flag is None and any(s.urn in auto_public for s in subnets)):
            yield Violation(res.urn, f"instance {res.name} gets a public IP address:"
                                     " set associatePublicIpAddress=false")
    for res in g.of_type(LAUNCH_TEMPLATE):
        for nic in res.items("networkInterfaces"):
            if truthy(nic.get("associatePublicIpAddress")):
                yield Violation(res.urn, f"launch template {res.name} gives instances public IPs")
    for res in g.of_type(EIP, EIP_ASSOCIATION):
        if res.inputs.get("instance") or res.inputs.get("instanceId"):
            yield Violation(res.urn, f"{res.name} gives an instance a public Elastic IP")


def _internet(cidr: Any) -> bool:
    """True for a CIDR that contains public internet addresses (0.0.0.0/0, ::/0, 8.8.8.0/24)."""
    if not isinstance(cidr, str):
        return False
    try:
        net = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return True  # fail closed: an unreadable CIDR is not known to be private
    return not (net.is_private or net.is_loopback or net.is_link_local)


def _ingress_entries(g: Graph) -> Iterator[tuple[Resource, list[Resource], Mapping[str, Any]]]:
    """(resource holding the rule, security groups it opens, the rule) for every ingress rule,
    normalised to keys cidrs, protocol, fromPort, toPort, peers."""
    for res in g.of_type(INGRESS_RULE):
        yield res, g.referents(res.inputs.get("securityGroupId"), SG_TYPES), {
            "cidrs": [res.inputs.get("cidrIpv4"), res.inputs.get("cidrIpv6")],
            "protocol": res.inputs.get("ipProtocol"),
            "fromPort": res.inputs.get("fromPort"),
            "toPort": res.inputs.get("toPort"),
            "peers": [res.inputs.get("referencedSecurityGroupId")],
        }
    for res in g.of_type(SG_RULE):
        if res.inputs.get("type") != "ingress":
            continue
        yield res, g.referents(res.inputs.get("securityGroupId"), SG_TYPES), _inline(res.inputs)
    for res in g.of_type(*SG_TYPES):
        for entry in res.items("ingress"):
            yield res, [res], _inline(entry)


def _inline(entry: Mapping[str, Any]) -> Mapping[str, Any]:
    cidrs = [*as_list(entry.get("cidrBlocks")), *as_list(entry.get("ipv6CidrBlocks"))]
    peers = [*as_list(entry.get("securityGroups")), entry.get("sourceSecurityGroupId")]
    return {"cidrs": cidrs, "protocol": entry.get("protocol"), "fromPort": entry.get("fromPort"),
            "toPort": entry.get("toPort"), "peers": peers}


def _one_port_of(entry: Mapping[str, Any], ports: tuple[int, ...]) -> bool:
    low, high = as_number(entry.get("fromPort")), as_number(entry.get("toPort"))
    return (str(entry.get("protocol")).lower() in ("tcp", "6") and low == high
            and low in ports)


def _lb_groups(g: Graph, kind: str) -> set[str]:
    """Security groups of the plan's load balancers of `kind` (application or network)."""
    return {sg.urn for lb in g.of_type(*LOAD_BALANCERS)
            if lb.inputs.get("loadBalancerType", "application") == kind
            for value in as_list(lb.inputs.get("securityGroups"))
            for sg in g.referents(value, SG_TYPES)}


def check_internet_ingress(g: Graph) -> Iterator[Violation]:
    web_groups, mail_groups = _lb_groups(g, "application"), _lb_groups(g, "network")
    lb_groups = web_groups | mail_groups
    for res, groups, entry in _ingress_entries(g):
        open_to = [c for c in entry["cidrs"] if _internet(c)]
        if not open_to:
            continue
        on_lb = bool(groups) and all(sg.urn in lb_groups for sg in groups)
        if groups and all(sg.urn in web_groups for sg in groups) \
                and _one_port_of(entry, WEB_PORTS):
            continue
        if groups and all(sg.urn in mail_groups for sg in groups) \
                and _one_port_of(entry, MAIL_PORTS):
            continue
        where = "the load balancer" if on_lb else "a security group not used by the load balancer"
        yield Violation(res.urn, f"{res.name} opens {entry['protocol']}"
                                 f" {entry['fromPort']}-{entry['toPort']} to {open_to[0]} on"
                                 f" {where}: only TCP 80/443 on the application load balancer"
                                 " and TCP 993/995/465 (mail over TLS) on the network load"
                                 " balancer may face the internet")


def check_imdsv2(g: Graph) -> Iterator[Violation]:
    for res in g.of_type(INSTANCE, LAUNCH_TEMPLATE):
        options = res.get("metadataOptions")
        tokens = options.get("httpTokens") if isinstance(options, Mapping) else None
        disabled = isinstance(options, Mapping) and options.get("httpEndpoint") == "disabled"
        if tokens != "required" and not disabled:
            yield Violation(res.urn, f"{res.name} allows IMDSv1: set metadataOptions.httpTokens"
                                     " to 'required'")


def check_no_ssh_keys(g: Graph) -> Iterator[Violation]:
    for res in g.of_type(INSTANCE, LAUNCH_TEMPLATE):
        if res.inputs.get("keyName"):
            yield Violation(res.urn, f"{res.name} has SSH key {res.inputs['keyName']!r}: use"
                                     " SSM Session Manager instead")
    for res in g.of_type(KEY_PAIR):
        yield Violation(res.urn, f"key pair {res.name}: the tenant stack must hold no SSH keys")


def check_public_subnets(g: Graph) -> Iterator[Violation]:
    public = _public_subnets(g)
    for res in g.of_type(INSTANCE):
        if any(s.urn in public for s in g.referents(res.inputs.get("subnetId"), (SUBNET,))):
            yield Violation(res.urn, f"instance {res.name} is in a public subnet: only the load"
                                     " balancer and NAT gateways belong there")
    for res in g.of_type(DB_SUBNET_GROUP):
        for value in as_list(res.inputs.get("subnetIds")):
            if any(s.urn in public for s in g.referents(value, (SUBNET,))):
                yield Violation(res.urn, f"database subnet group {res.name} includes a public"
                                         " subnet")
                break


def check_default_security_group(g: Graph) -> Iterator[Violation]:
    managed = {v.urn for d in g.of_type(DEFAULT_SECURITY_GROUP)
               for v in g.referents(d.inputs.get("vpcId"), (VPC,))}
    for vpc in g.of_type(VPC):
        if vpc.urn not in managed:
            yield Violation(vpc.urn, f"VPC {vpc.name}'s default security group keeps AWS's"
                                     " default rules: adopt it with a DefaultSecurityGroup"
                                     " without rules")
    for res in g.of_type(DEFAULT_SECURITY_GROUP):
        if res.items("ingress") or res.items("egress"):
            yield Violation(res.urn, f"default security group {res.name} has rules: remove them")


def check_bucket_public_access(g: Graph) -> Iterator[Violation]:
    for bucket in g.of_type(*BUCKETS):
        blocks = g.referrers(bucket, (PUBLIC_ACCESS_BLOCK,), "bucket")
        if not blocks:
            yield Violation(bucket.urn, f"bucket {bucket.name} has no public access block")
            continue
        for block in blocks:
            off = [f for f in PAB_FIELDS if not truthy(block.inputs.get(f))]
            if off:
                yield Violation(block.urn, f"public access block of bucket {bucket.name} leaves"
                                           f" {', '.join(off)} off")


def check_no_sharing(g: Graph) -> Iterator[Violation]:
    for res in g.of_type(*SHARING_TYPES):
        yield Violation(res.urn, f"{res.type} connects or shares the tenant's resources with"
                                 " another network or account")
    for res in g.of_type(INGRESS_RULE, EGRESS_RULE):
        peer = res.inputs.get("referencedSecurityGroupId")
        if peer and not g.referents(peer, SG_TYPES):
            yield Violation(res.urn, f"{res.name} refers to security group {peer!r}, which is"
                                     " not the tenant's own")
    for res, _groups, entry in _ingress_entries(g):
        for peer in entry["peers"]:
            if peer and res.type != INGRESS_RULE and not g.referents(peer, SG_TYPES):
                yield Violation(res.urn, f"{res.name} admits security group {peer!r}, which is"
                                         " not the tenant's own")


RULES = (
    Rule("NET-001", "The database is not publicly accessible", "isolation", Severity.mandatory,
         check_database_private),
    Rule("NET-002", "Instances get no public IP addresses", "isolation", Severity.mandatory,
         check_no_public_ips),
    Rule("NET-003", "Only TCP 80/443 on the application load balancer's security group (and"
                    " implicit-TLS mail 993/995/465 on the network load balancer's) is open to"
                    " the internet", "isolation", Severity.mandatory, check_internet_ingress),
    Rule("NET-004", "Instances require IMDSv2 (session tokens)", "isolation", Severity.mandatory,
         check_imdsv2),
    Rule("NET-005", "No SSH key pairs on instances or in the stack", "isolation",
         Severity.mandatory, check_no_ssh_keys),
    Rule("NET-006", "Public subnets hold only the load balancer and NAT gateways", "isolation",
         Severity.mandatory, check_public_subnets),
    Rule("NET-007", "The VPC's default security group is adopted and has no rules", "isolation",
         Severity.mandatory, check_default_security_group,
         "CIS AWS 5.4, Security Hub EC2.2: a group that admits its own members must not exist."),
    Rule("NET-008", "Every S3 bucket blocks all public access", "isolation", Severity.mandatory,
         check_bucket_public_access),
    Rule("ISO-001", "Nothing connects or shares the tenant's network and resources with another"
                    " (peering, transit gateways, VPN, RAM shares, foreign security groups)",
         "isolation", Severity.mandatory, check_no_sharing),
)
