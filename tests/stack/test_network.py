"""A dedicated VPC: public subnets for the load balancer only, private subnets in two zones,
security groups chaining load balancer -> app -> database, flow logs."""

from __future__ import annotations

from tests.stack.conftest import Plan

SG = "aws:ec2/securityGroup:SecurityGroup"
SUBNET = "aws:ec2/subnet:Subnet"


def _subnets(planned: Plan, tier: str) -> list[dict]:
    return [s for s in planned.of_type(SUBNET) if s["inputs"]["tags"].get("tier") == tier]


def test_tenant_has_its_own_vpc(planned: Plan) -> None:
    vpc = planned.one("aws:ec2/vpc:Vpc")
    assert vpc["region"] == planned.spec.region
    vpc_id = planned.id(vpc)
    for res in planned.of_type(SUBNET) + planned.of_type(SG):
        assert res["inputs"]["vpcId"] == vpc_id


def test_private_subnets_span_two_zones_and_assign_no_public_ips(planned: Plan) -> None:
    private = _subnets(planned, "private")
    assert len({s["inputs"]["availabilityZone"] for s in private}) >= 2
    assert all(s["inputs"]["mapPublicIpOnLaunch"] is False for s in private)


def test_only_the_load_balancers_use_public_subnets(planned: Plan) -> None:
    public_ids = {planned.id(s) for s in _subnets(planned, "public")}
    for lb in planned.of_type("aws:lb/loadBalancer:LoadBalancer"):
        assert set(lb["inputs"]["subnets"]) == public_ids
    server = planned.one("aws:ec2/instance:Instance")
    assert server["inputs"]["subnetId"] not in public_ids
    db_subnets = planned.one("aws:rds/subnetGroup:SubnetGroup")["inputs"]["subnetIds"]
    assert not public_ids & set(db_subnets)


def test_private_subnets_route_out_through_nat_only(planned: Plan) -> None:
    private_rt = planned.one("aws:ec2/routeTable:RouteTable", "private-rt")
    routes = private_rt["inputs"]["routes"]
    assert all("gatewayId" not in r for r in routes), "no internet gateway route for private"
    assert all(r.get("natGatewayId") for r in routes)


def _ingress_sources(sg: dict) -> list[tuple[float, float, list, list]]:
    return [
        (r["fromPort"], r["toPort"], r.get("cidrBlocks", []) + r.get("ipv6CidrBlocks", []),
         r.get("securityGroups", []))
        for r in sg["inputs"].get("ingress", [])
    ]  # fmt: skip


def test_only_the_load_balancers_reach_the_app(planned: Plan) -> None:
    lb_sg, app_sg = planned.one(SG, "lb-sg"), planned.one(SG, "app-sg")
    mail_sg = planned.one(SG, "mail-sg")
    sources = _ingress_sources(app_sg)
    assert sources, "the app must accept the load balancer"
    for from_port, _, cidrs, groups in sources:
        assert cidrs == []
        if from_port == 8443.0:
            assert groups == [planned.id(lb_sg)]
        else:  # mail over TLS, from the mail load balancer only
            assert from_port in {993.0, 995.0, 465.0} and groups == [planned.id(mail_sg)]
    server = planned.one("aws:ec2/instance:Instance")
    assert server["inputs"]["vpcSecurityGroupIds"] == [planned.id(app_sg)]


def test_only_the_app_and_the_bootstrap_function_reach_the_database(planned: Plan) -> None:
    app_sg, db_sg = planned.one(SG, "app-sg"), planned.one(SG, "db-sg")
    bootstrap_sg = planned.one(SG, "bootstrap-sg")  # creates the app's MySQL user
    sources = _ingress_sources(db_sg)
    assert sorted(sources) == sorted([(3306.0, 3306.0, [], [planned.id(app_sg)]),
                                      (3306.0, 3306.0, [], [planned.id(bootstrap_sg)])])
    db = planned.one("aws:rds/instance:Instance")
    assert db["inputs"]["vpcSecurityGroupIds"] == [planned.id(db_sg)]


def test_only_the_load_balancers_are_open_to_the_internet_on_web_and_mail_tls_ports(
    planned: Plan,
) -> None:
    allowed = {"lb-sg": {(443.0, 443.0), (80.0, 80.0)},
               "mail-sg": {(993.0, 993.0), (995.0, 995.0), (465.0, 465.0)}}
    for sg in planned.of_type(SG):
        for from_port, to_port, cidrs, _ in _ingress_sources(sg):
            if {"0.0.0.0/0", "::/0"} & set(cidrs):
                kind = sg["name"].removeprefix("network-")
                assert (from_port, to_port) in allowed[kind]


def test_default_security_group_is_stripped(planned: Plan) -> None:
    default = planned.one("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert default["inputs"].get("ingress", []) == []
    assert default["inputs"].get("egress", []) == []


def test_vpc_flow_logs_capture_all_traffic_to_the_encrypted_log_group(planned: Plan) -> None:
    flow = planned.one("aws:ec2/flowLog:FlowLog")
    assert flow["inputs"]["vpcId"] == planned.id(planned.one("aws:ec2/vpc:Vpc"))
    assert flow["inputs"]["trafficType"] == "ALL"
    group = planned.one("aws:cloudwatch/logGroup:LogGroup", "flow-logs")
    assert flow["inputs"]["logDestination"] == planned.arn(group)
    assert group["inputs"]["kmsKeyId"] == planned.tenant_key_arn
