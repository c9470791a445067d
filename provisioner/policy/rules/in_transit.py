"""Encryption in transit: HTTPS with forward-secret TLS 1.2/1.3, HSTS, HTTP only redirects, and
database connections that require TLS."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from provisioner.policy.graph import Graph, Resource, truthy
from provisioner.policy.model import Rule, Severity, Violation
from provisioner.promises import ALLOWED_TLS_POLICIES, hsts_is_strong

LISTENERS = ("aws:lb/listener:Listener", "aws:alb/listener:Listener")
LISTENER_RULES = ("aws:lb/listenerRule:ListenerRule", "aws:alb/listenerRule:ListenerRule")
LOAD_BALANCERS = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
DB_INSTANCE = "aws:rds/instance:Instance"
DB_CLUSTER = "aws:rds/cluster:Cluster"
PARAMETER_GROUP = "aws:rds/parameterGroup:ParameterGroup"
CLUSTER_PARAMETER_GROUP = "aws:rds/clusterParameterGroup:ClusterParameterGroup"
TLS_PROTOCOLS = ("HTTPS", "TLS")
# The parameter that makes the engine refuse unencrypted connections, per engine family.
TLS_PARAMETERS = ("require_secure_transport", "rds.force_ssl")
_ON = ("1", "on", "true")


def _redirect_problem(action: Mapping[str, Any]) -> str | None:
    """None when `action` is a permanent redirect to HTTPS on 443, else why not."""
    if action.get("type") != "redirect":
        return f"action {action.get('type')!r} serves plain HTTP"
    redirect = action.get("redirect")
    if not isinstance(redirect, Mapping):
        return "redirect action without a redirect block"
    if redirect.get("protocol") != "HTTPS":
        return f"redirects to protocol {redirect.get('protocol')!r}, not HTTPS"
    if redirect.get("statusCode") != "HTTP_301":
        return f"redirects with {redirect.get('statusCode')!r}, not HTTP_301 (permanent)"
    # Unset, the port defaults to "#{port}": https on port 80, which nothing answers.
    port = redirect.get("port")
    if str(port).split(".")[0] != "443":
        return f"redirects to port {port!r}, not 443"
    return None


def _listener_problems(res: Resource) -> Iterator[str]:
    protocol = res.inputs.get("protocol")
    if protocol in TLS_PROTOCOLS:
        policy = res.inputs.get("sslPolicy")
        if not (isinstance(policy, str) and policy in ALLOWED_TLS_POLICIES):
            yield (f"TLS policy {policy!r} is not TLS 1.2/1.3 forward-secret only: use one of"
                   f" {', '.join(sorted(ALLOWED_TLS_POLICIES))}")
        if not res.inputs.get("certificateArn"):
            yield "has no certificate (certificateArn)"
        return
    if protocol != "HTTP":
        yield f"protocol {protocol!r} is neither HTTPS nor an HTTP redirect"
        return
    actions = res.items("defaultActions")
    if not actions:
        yield "HTTP listener without actions"
    for action in actions:
        problem = _redirect_problem(action)
        if problem:
            yield f"HTTP listener {problem}: HTTP may only redirect to HTTPS with 301"


def check_listeners(g: Graph) -> Iterator[Violation]:
    for res in g.of_type(*LISTENERS):
        for problem in _listener_problems(res):
            yield Violation(res.urn, f"listener {res.name} (port {res.inputs.get('port')}):"
                                     f" {problem}")
    # A rule on an HTTP listener could forward plain HTTP past the listener's redirect.
    for rule in g.of_type(*LISTENER_RULES):
        listeners = g.referents(rule.inputs.get("listenerArn"), LISTENERS)
        if not any(lst.inputs.get("protocol") == "HTTP" for lst in listeners):
            continue
        for action in rule.items("actions"):
            issue = _redirect_problem(action)
            if issue:
                yield Violation(rule.urn, f"rule {rule.name} on an HTTP listener: {issue}")


def check_hsts(g: Graph) -> Iterator[Violation]:
    for res in g.of_type(*LISTENERS):
        if res.inputs.get("protocol") != "HTTPS":
            continue
        header = res.inputs.get("routingHttpResponseStrictTransportSecurityHeaderValue")
        if not hsts_is_strong(header if isinstance(header, str) else None):
            yield Violation(res.urn, f"listener {res.name} sends HSTS {header!r}: need"
                                     " max-age >= 31536000 and includeSubDomains")


def _requires_tls(group: Resource) -> bool:
    for param in group.items("parameters"):
        if param.get("name") in TLS_PARAMETERS and str(param.get("value")).lower() in _ON:
            return True
    return False


def check_database_tls(g: Graph) -> Iterator[Violation]:
    for res in g.of_type(DB_INSTANCE, DB_CLUSTER):
        if res.type == DB_INSTANCE:
            field, types = "parameterGroupName", (PARAMETER_GROUP,)
        else:
            field, types = "dbClusterParameterGroupName", (CLUSTER_PARAMETER_GROUP,)
        groups = g.referents(res.inputs.get(field), types)
        if not groups:
            yield Violation(res.urn, f"database {res.name} uses no parameter group of this plan"
                                     f" ({field}): the default group accepts unencrypted"
                                     " connections")
        elif not all(_requires_tls(grp) for grp in groups):
            yield Violation(res.urn, f"database {res.name} parameter group does not require TLS:"
                                     " set require_secure_transport=1 (MySQL) or"
                                     " rds.force_ssl=1 (PostgreSQL)")


def check_invalid_headers(g: Graph) -> Iterator[Violation]:
    for res in g.of_type(*LOAD_BALANCERS):
        if res.inputs.get("loadBalancerType", "application") != "application":
            continue
        if not truthy(res.inputs.get("dropInvalidHeaderFields")):
            yield Violation(res.urn, f"load balancer {res.name} forwards invalid HTTP header"
                                     " fields: set dropInvalidHeaderFields=true")


RULES = (
    Rule("TLS-001", "Listeners are HTTPS with a TLS 1.2/1.3 forward-secret policy, or HTTP that"
                    " only redirects to HTTPS with 301", "in-transit", Severity.mandatory,
         check_listeners),
    Rule("TLS-002", "HTTPS listeners send HSTS with max-age >= one year and includeSubDomains",
         "in-transit", Severity.mandatory, check_hsts),
    Rule("TLS-003", "The database requires TLS for every connection", "in-transit",
         Severity.mandatory, check_database_tls),
    Rule("TLS-004", "Application load balancers drop invalid HTTP header fields", "in-transit",
         Severity.mandatory, check_invalid_headers,
         "Defence against request smuggling (Security Hub ELB.4, checkov CKV_AWS_131)."),
)
