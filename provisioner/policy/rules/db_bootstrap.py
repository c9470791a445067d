"""The database bootstrap function (the one thing that uses the master credential) stays the
platform's: private, in the tenant's VPC, reading only the master secret, invoked by no one else.

Which role may read a secret at all is DB-004's business (least_privilege.py); these rules hold
the function that role belongs to.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from provisioner.policy.graph import Graph, Resource, as_list, region_of_arn
from provisioner.policy.model import Rule, Severity, Violation
from provisioner.policy.rules.tenant_facts import document, statements, strings

FUNCTION = "aws:lambda/function:Function"
PERMISSION = "aws:lambda/permission:Permission"
FUNCTION_URL = "aws:lambda/functionUrl:FunctionUrl"
SUBNET = "aws:ec2/subnet:Subnet"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
ROLE = "aws:iam/role:Role"
DB_INSTANCE = "aws:rds/instance:Instance"
SECRET_READ = "secretsmanager:getsecretvalue"
RDS_SECRET = ":secret:rds!"  # RDS names the master secrets it manages `rds!db-...`


def _public_subnet(g: Graph, subnet: Resource) -> bool:
    """A subnet whose route table sends traffic to an internet gateway (or that gives public
    addresses) is public."""
    if subnet.inputs.get("mapPublicIpOnLaunch") is True:
        return True
    for association in g.referrers(subnet, (ASSOCIATION,), "subnetId"):
        for table in g.referents(association.inputs.get("routeTableId"), (ROUTE_TABLE,)):
            for route in as_list(table.inputs.get("routes")):
                if isinstance(route, Mapping) and route.get("gatewayId"):
                    return True
    return False


def check_function_private(g: Graph) -> Iterator[Violation]:
    """In the tenant's private subnets behind a security group nothing may reach."""
    for function in g.of_type(FUNCTION):
        vpc: Any = function.inputs.get("vpcConfig")
        subnets = as_list(vpc.get("subnetIds")) if isinstance(vpc, Mapping) else []
        groups = as_list(vpc.get("securityGroupIds")) if isinstance(vpc, Mapping) else []
        if not subnets or not groups:
            yield Violation(function.urn, f"function {function.name} runs outside the tenant's"
                                          " VPC: set vpcConfig with its private subnets")
            continue
        for value in subnets:
            found = g.referents(value, (SUBNET,))
            if not found:
                yield Violation(function.urn, f"function {function.name} runs in subnet"
                                              f" {value!r}, not one of the tenant's")
            for subnet in found:
                if _public_subnet(g, subnet):
                    yield Violation(function.urn, f"function {function.name} runs in public"
                                                  f" subnet {subnet.name}")
        for value in groups:
            candidates = g.referents(value, (SECURITY_GROUP,))
            # A deployed stack's opaque id resolves through the engine's per-input dependencies,
            # which may name other groups too (the database's group lists the app's and this
            # one in one input): then one candidate admitting nothing is enough.
            if candidates and all(as_list(c.inputs.get("ingress")) for c in candidates):
                for group in candidates:
                    yield Violation(group.urn, f"security group {group.name} of function"
                                               f" {function.name} lets traffic in")


def check_function_not_invokable(g: Graph) -> Iterator[Violation]:
    """No function URL and no resource policy: only the deployment's own credentials (the
    account's identity policies) may invoke it."""
    for res in g.of_type(FUNCTION_URL, PERMISSION):
        targets = g.referents(res.inputs.get("function") or res.inputs.get("functionName"),
                              (FUNCTION,))
        label = "a function URL" if res.type == FUNCTION_URL else \
            f"a resource policy for {res.inputs.get('principal')!r}"
        named = ", ".join(t.name for t in targets) or str(res.inputs.get("functionName"))
        yield Violation(res.urn, f"{res.name} gives function {named} {label}: nothing outside"
                                 " the deployment may invoke it")


def _secret_reads(g: Graph) -> Iterator[tuple[Resource, list[str]]]:
    from provisioner.policy.rules.least_privilege import IDENTITY_POLICIES

    for res in g.data_resources():
        field = IDENTITY_POLICIES.get(res.type)
        doc = document(res, field) if field else None
        for statement in statements(doc or {}):
            actions = [a.lower() for a in strings(statement.get("Action"))]
            if statement.get("Effect") == "Allow" and SECRET_READ in actions:
                yield res, strings(statement.get("Resource"))


def check_secret_scope(g: Graph) -> Iterator[Violation]:
    """A role that reads a secret reads the database's master secret by its exact ARN, no
    other secret and no pattern."""
    for res, resources in _secret_reads(g):
        for resource in resources:
            if "*" in resource or "?" in resource:
                yield Violation(res.urn, f"{res.name} reads secrets matching {resource!r}:"
                                         " name the master secret's exact ARN")
            elif RDS_SECRET not in resource or not g.of_type(DB_INSTANCE):
                yield Violation(res.urn, f"{res.name} reads secret {resource!r}, not the"
                                         " database's RDS-managed master secret")
            elif region_of_arn(resource) != g.region:
                yield Violation(res.urn, f"{res.name} reads secret {resource!r} of another"
                                         f" region than the tenant's {g.region}")


def bootstrap_roles(g: Graph) -> list[Resource]:
    """Roles trusted by Lambda alone and used by a function of the plan."""
    found = []
    for role in g.of_type(ROLE):
        doc = document(role, "assumeRolePolicy") or {}
        principals = [strings(st.get("Principal", {}).get("Service"))
                      if isinstance(st.get("Principal"), Mapping) else ["*"]
                      for st in statements(doc) if st.get("Effect") == "Allow"]
        services = {s for p in principals for s in p}
        if services == {"lambda.amazonaws.com"} and g.referrers(role, (FUNCTION,), "role"):
            found.append(role)
    return found


RULES = (
    Rule("DB-005", "The database bootstrap function runs in the tenant's private subnets behind"
                   " a security group nothing can reach", "isolation", Severity.mandatory,
         check_function_private),
    Rule("DB-006", "No Lambda function of the tenant has a function URL or a resource policy",
         "isolation", Severity.mandatory, check_function_not_invokable),
    Rule("DB-007", "A role that reads a secret reads only the database's master secret, by its"
                   " exact ARN", "isolation", Severity.mandatory, check_secret_scope),
)
