"""The tenant's own VPC: public subnets for the load balancer only, private subnets for the app
and the database, security groups chaining load balancer -> app -> database, and flow logs.

The VPC is never peered or shared, so every tenant can use the same address plan.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from provisioner.promises import MAIL_TLS_PORTS
from provisioner.spec import TenantSpec
from stacks.components.base import TenantPart, assume_role_policy

VPC_CIDR = "10.0.0.0/16"
PUBLIC_CIDRS = ("10.0.0.0/24", "10.0.1.0/24")  # load balancer only
PRIVATE_CIDRS = ("10.0.10.0/24", "10.0.11.0/24")  # app server and database
APP_PORT = 8443  # the app server speaks TLS to the load balancer too
DB_PORT = 3306
HTTPS_PORT = 443
HTTP_PORT = 80  # answered only with a redirect to HTTPS
ANYWHERE_V4 = "0.0.0.0/0"
ANYWHERE_V6 = "::/0"
FLOW_LOG_AGGREGATION_SECONDS = 60


class Network(TenantPart):
    """VPC, subnets in two zones, routing, security groups, flow logs."""

    def __init__(
        self,
        name: str,
        spec: TenantSpec,
        flow_log_group_arn: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("Network", name, spec, opts)
        zones = spec.location.zones[:2]
        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=VPC_CIDR,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            region=self.region,
            tags=self.tags(Name=f"tenant-{spec.slug}"),
            opts=self.child(),
        )
        # The default security group allows all traffic between its members: strip it.
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg",
            vpc_id=self.vpc.id,
            ingress=[],
            egress=[],
            region=self.region,
            tags=self.tags(Name="default-locked"),
            opts=self.child(),
        )
        igw = aws.ec2.InternetGateway(
            f"{name}-igw",
            vpc_id=self.vpc.id,
            region=self.region,
            tags=self.tags(),
            opts=self.child(),
        )
        self.public_subnets = [
            aws.ec2.Subnet(
                f"{name}-public-{i}",
                vpc_id=self.vpc.id,
                cidr_block=cidr,
                availability_zone=zone,
                map_public_ip_on_launch=False,  # the load balancer gets its own addresses
                region=self.region,
                tags=self.tags(Name=f"public-{zone}", tier="public"),
                opts=self.child(),
            )
            for i, (cidr, zone) in enumerate(zip(PUBLIC_CIDRS, zones, strict=True))
        ]
        self.private_subnets = [
            aws.ec2.Subnet(
                f"{name}-private-{i}",
                vpc_id=self.vpc.id,
                cidr_block=cidr,
                availability_zone=zone,
                map_public_ip_on_launch=False,
                region=self.region,
                tags=self.tags(Name=f"private-{zone}", tier="private"),
                opts=self.child(),
            )
            for i, (cidr, zone) in enumerate(zip(PRIVATE_CIDRS, zones, strict=True))
        ]
        nat_ip = aws.ec2.Eip(
            f"{name}-nat-ip", domain="vpc", region=self.region, tags=self.tags(), opts=self.child()
        )
        # Outbound only: the app server reaches SSM and package mirrors; nothing reaches it.
        nat = aws.ec2.NatGateway(
            f"{name}-nat",
            allocation_id=nat_ip.allocation_id,
            subnet_id=self.public_subnets[0].id,
            region=self.region,
            tags=self.tags(),
            opts=self.child(),
        )
        public_rt = aws.ec2.RouteTable(
            f"{name}-public-rt",
            vpc_id=self.vpc.id,
            routes=[{"cidr_block": ANYWHERE_V4, "gateway_id": igw.id}],
            region=self.region,
            tags=self.tags(tier="public"),
            opts=self.child(),
        )
        private_rt = aws.ec2.RouteTable(
            f"{name}-private-rt",
            vpc_id=self.vpc.id,
            routes=[{"cidr_block": ANYWHERE_V4, "nat_gateway_id": nat.id}],
            region=self.region,
            tags=self.tags(tier="private"),
            opts=self.child(),
        )
        for tier, table, subnets in (
            ("public", public_rt, self.public_subnets),
            ("private", private_rt, self.private_subnets),
        ):
            for i, subnet in enumerate(subnets):
                aws.ec2.RouteTableAssociation(
                    f"{name}-{tier}-rta-{i}",
                    route_table_id=table.id,
                    subnet_id=subnet.id,
                    region=self.region,
                    opts=self.child(),
                )
        self._security_groups(name)
        self._flow_logs(name, flow_log_group_arn)
        self.register_outputs({"vpc_id": self.vpc.id})

    def _security_groups(self, name: str) -> None:
        """Load balancer -> app -> database, each hop by security-group reference only."""
        self.lb_sg = aws.ec2.SecurityGroup(
            f"{name}-lb-sg",
            description="Load balancer: HTTPS and the HTTP redirect from anywhere",
            vpc_id=self.vpc.id,
            ingress=[
                {"protocol": "tcp", "from_port": port, "to_port": port,
                 "cidr_blocks": [ANYWHERE_V4], "ipv6_cidr_blocks": [ANYWHERE_V6],
                 "description": label}
                for port, label in ((HTTPS_PORT, "HTTPS"), (HTTP_PORT, "HTTP, redirected to HTTPS"))
            ],
            egress=[{"protocol": "tcp", "from_port": APP_PORT, "to_port": APP_PORT,
                     "cidr_blocks": list(PRIVATE_CIDRS), "description": "to the app servers"}],
            region=self.region,
            tags=self.tags(Name="lb"),
            opts=self.child(),
        )  # fmt: skip
        # Mail client access: implicit-TLS ports only (IMAPS, POP3S, SMTPS) on the network
        # load balancer; no plaintext mail port is open anywhere.
        self.mail_sg = aws.ec2.SecurityGroup(
            f"{name}-mail-sg",
            description="Mail load balancer: IMAPS, POP3S and SMTPS from anywhere",
            vpc_id=self.vpc.id,
            ingress=[
                {"protocol": "tcp", "from_port": port, "to_port": port,
                 "cidr_blocks": [ANYWHERE_V4], "ipv6_cidr_blocks": [ANYWHERE_V6],
                 "description": f"mail over TLS ({port})"}
                for port in MAIL_TLS_PORTS
            ],
            egress=[{"protocol": "tcp", "from_port": port, "to_port": port,
                     "cidr_blocks": list(PRIVATE_CIDRS), "description": "to the app servers"}
                    for port in MAIL_TLS_PORTS],
            region=self.region,
            tags=self.tags(Name="mail"),
            opts=self.child(),
        )  # fmt: skip
        app_ingress: list[aws.ec2.SecurityGroupIngressArgsDict] = [
            {"protocol": "tcp", "from_port": APP_PORT, "to_port": APP_PORT,
             "security_groups": [self.lb_sg.id], "description": "from the load balancer"}]
        for port in MAIL_TLS_PORTS:
            app_ingress.append({"protocol": "tcp", "from_port": port, "to_port": port,
                                "security_groups": [self.mail_sg.id],
                                "description": f"mail over TLS ({port}) from the mail LB"})
        self.app_sg = aws.ec2.SecurityGroup(
            f"{name}-app-sg",
            # A security group's description cannot be changed in place: a new text would
            # replace the group of every live tenant's app server (and the database group's
            # rule naming it). The text predates the mail load balancer; the rules below are
            # what admits traffic (tests/fleet/test_live_replacements.py keeps it unchanged).
            description="App server: reachable from the tenant's load balancer only",
            vpc_id=self.vpc.id,
            ingress=app_ingress,
            egress=[
                {"protocol": "tcp", "from_port": HTTPS_PORT, "to_port": HTTPS_PORT,
                 "cidr_blocks": [ANYWHERE_V4], "description": "SSM, KMS, Secrets Manager, updates"},
                {"protocol": "tcp", "from_port": DB_PORT, "to_port": DB_PORT,
                 "cidr_blocks": list(PRIVATE_CIDRS), "description": "to the database"},
            ],
            region=self.region,
            tags=self.tags(Name="app"),
            opts=self.child(),
        )  # fmt: skip
        # The database bootstrap function (stacks/components/db_bootstrap.py): reaches the
        # database and Secrets Manager over HTTPS, and nothing reaches it.
        self.bootstrap_sg = aws.ec2.SecurityGroup(
            f"{name}-bootstrap-sg",
            description="Database bootstrap function: the database and HTTPS only",
            vpc_id=self.vpc.id,
            ingress=[],
            egress=[
                {"protocol": "tcp", "from_port": DB_PORT, "to_port": DB_PORT,
                 "cidr_blocks": list(PRIVATE_CIDRS), "description": "to the database"},
                {"protocol": "tcp", "from_port": HTTPS_PORT, "to_port": HTTPS_PORT,
                 "cidr_blocks": [ANYWHERE_V4], "description": "Secrets Manager"},
            ],
            region=self.region,
            tags=self.tags(Name="db-bootstrap"),
            opts=self.child(),
        )
        self.db_sg = aws.ec2.SecurityGroup(
            f"{name}-db-sg",
            description="Database: reachable from the tenant's app server only",
            vpc_id=self.vpc.id,
            ingress=[{"protocol": "tcp", "from_port": DB_PORT, "to_port": DB_PORT,
                      "security_groups": [self.app_sg.id], "description": "from the app server"},
                     {"protocol": "tcp", "from_port": DB_PORT, "to_port": DB_PORT,
                      "security_groups": [self.bootstrap_sg.id],
                      "description": "from the database bootstrap function"}],
            egress=[],
            region=self.region,
            tags=self.tags(Name="db"),
            opts=self.child(),
        )  # fmt: skip

    def _flow_logs(self, name: str, log_group_arn: pulumi.Input[str]) -> None:
        role = aws.iam.Role(
            f"{name}-flow-logs-role",
            assume_role_policy=assume_role_policy("vpc-flow-logs.amazonaws.com"),
            tags=self.tags(),
            opts=self.child(),
        )
        aws.iam.RolePolicy(
            f"{name}-flow-logs-policy",
            role=role.id,
            policy=pulumi.Output.from_input(log_group_arn).apply(
                lambda arn: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": [
                                    "logs:CreateLogStream",
                                    "logs:PutLogEvents",
                                    "logs:DescribeLogStreams",
                                ],
                                "Resource": [arn, f"{arn}:*"],
                            }
                        ],
                    }
                )
            ),
            opts=self.child(),
        )
        aws.ec2.FlowLog(
            f"{name}-flow-log",
            vpc_id=self.vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=log_group_arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=FLOW_LOG_AGGREGATION_SECONDS,
            region=self.region,
            tags=self.tags(),
            opts=self.child(),
        )
