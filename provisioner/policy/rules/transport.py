"""Transport beyond the listeners: a firewall in front of the web, TLS to the targets and on
the app server, mail clients over implicit TLS only, TLS-only buckets and narrow egress."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from provisioner.policy.graph import Graph, as_list, as_number
from provisioner.policy.model import Rule, Severity, Violation
from provisioner.policy.rules.exposure import EGRESS_RULE, SG_TYPES, _internet
from provisioner.policy.rules.tenant_facts import document, statements, strings
from provisioner.promises import (
    MAIL_PLAINTEXT_PORTS,
    MAIL_TLS_PORTS,
    TLS12_CIPHERS,
    TLS13_CIPHERSUITES,
)

LOAD_BALANCERS = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
LISTENERS = ("aws:lb/listener:Listener", "aws:alb/listener:Listener")
TARGET_GROUPS = ("aws:lb/targetGroup:TargetGroup", "aws:alb/targetGroup:TargetGroup")
WEB_ACL = "aws:wafv2/webAcl:WebAcl"
WEB_ACL_ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"
WEB_ACL_LOGGING = "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
INSTANCE = "aws:ec2/instance:Instance"
BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
REQUIRED_RULE_GROUPS = (
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesSQLiRuleSet",
)
_NGINX = {
    "protocols": re.compile(r"^\s*ssl_protocols\s+([^;]+);", re.M),
    "ciphers": re.compile(r"^\s*ssl_ciphers\s+([^;]+);", re.M),
    "suites": re.compile(r"^\s*ssl_conf_command\s+Ciphersuites\s+([^;]+);", re.M),
}


def _blocking_groups(acl: Mapping[str, object]) -> set[str]:
    """Managed AWS rule groups the ACL applies with their own (block) actions."""
    found = set()
    for rule in as_list(acl.get("rules")):
        if not isinstance(rule, Mapping) or rule.get("overrideAction") != {"none": {}}:
            continue
        statement = rule.get("statement")
        group = statement.get("managedRuleGroupStatement") if isinstance(statement, Mapping) \
            else None
        if isinstance(group, Mapping) and group.get("vendorName") == "AWS":
            found.add(str(group.get("name")))
    return found


def check_waf(g: Graph) -> Iterator[Violation]:
    for lb in g.of_type(*LOAD_BALANCERS):
        if lb.inputs.get("loadBalancerType", "application") != "application" or \
                lb.inputs.get("internal") is True:
            continue
        acls = [acl for assoc in g.referrers(lb, (WEB_ACL_ASSOCIATION,), "resourceArn")
                for acl in g.referents(assoc.inputs.get("webAclArn"), (WEB_ACL,))]
        if not acls:
            yield Violation(lb.urn, f"internet-facing load balancer {lb.name} has no WAF web ACL")
            continue
        for acl in acls:
            missing = set(REQUIRED_RULE_GROUPS) - _blocking_groups(acl.inputs)
            if missing:
                yield Violation(acl.urn, f"web ACL {acl.name} does not block with"
                                         f" {', '.join(sorted(missing))} (overrideAction none)")
            logged = [
                group for conf in g.referrers(acl, (WEB_ACL_LOGGING,), "resourceArn")
                for value in as_list(conf.inputs.get("logDestinationConfigs"))
                for group in g.referents(value, (LOG_GROUP,))
            ]
            if not logged:
                yield Violation(acl.urn, f"web ACL {acl.name} logs to no log group of the tenant")


def check_target_protocols(g: Graph) -> Iterator[Violation]:
    for tg in g.of_type(*TARGET_GROUPS):
        if tg.inputs.get("protocol") not in ("HTTPS", "TLS"):
            yield Violation(tg.urn, f"target group {tg.name} speaks {tg.inputs.get('protocol')!r}"
                                    " to its targets: use HTTPS or TLS")


def check_mail(g: Graph) -> Iterator[Violation]:
    tls_ports: set[int] = set()
    for listener in g.of_type(*LISTENERS):
        port = as_number(listener.inputs.get("port"))
        if port is None:
            continue
        if int(port) in MAIL_PLAINTEXT_PORTS:
            yield Violation(listener.urn, f"listener {listener.name} answers plaintext mail port"
                                          f" {int(port)}: offer only 993/995/465 with TLS")
        elif int(port) in MAIL_TLS_PORTS and listener.inputs.get("protocol") == "TLS":
            tls_ports.add(int(port))
    missing = sorted(set(MAIL_TLS_PORTS) - tls_ports)
    if missing:
        yield Violation(g.stack_urn, "mail clients have no TLS listener on port(s)"
                                     f" {', '.join(map(str, missing))}")


def check_app_server_tls(g: Graph) -> Iterator[Violation]:
    allowed_ciphers, allowed_suites = set(TLS12_CIPHERS), set(TLS13_CIPHERSUITES)
    for instance in g.of_type(INSTANCE):
        text = instance.inputs.get("userData")
        if not isinstance(text, str):
            yield Violation(instance.urn, f"instance {instance.name}'s TLS settings cannot be"
                                          " read (no user data)")
            continue
        found = {k: rx.search(text) for k, rx in _NGINX.items()}
        problems = []
        protocols = set(found["protocols"].group(1).split()) if found["protocols"] else set()
        if not protocols or protocols - {"TLSv1.2", "TLSv1.3"}:
            problems.append(f"ssl_protocols {sorted(protocols) or 'unset'}")
        ciphers = set(found["ciphers"].group(1).split(":")) if found["ciphers"] else set()
        if not ciphers or ciphers - allowed_ciphers:
            problems.append(f"ssl_ciphers {sorted(ciphers - allowed_ciphers) or 'unset'}")
        suites = set(found["suites"].group(1).split(":")) if found["suites"] else set()
        if "TLSv1.3" in protocols and (not suites or suites - allowed_suites):
            problems.append(f"TLS 1.3 Ciphersuites {sorted(suites - allowed_suites) or 'unset'}")
        if problems:
            yield Violation(instance.urn, f"app server {instance.name} nginx allows more than"
                                          " TLS 1.2/1.3 with forward-secret AEAD suites: "
                                          + "; ".join(problems))


def _denies_insecure_transport(doc: Mapping[str, object]) -> bool:
    for statement in statements(doc):
        condition = statement.get("Condition")
        if statement.get("Effect") != "Deny" or not isinstance(condition, Mapping):
            continue
        flag = condition.get("Bool")
        if isinstance(flag, Mapping) and str(flag.get("aws:SecureTransport")).lower() == "false" \
                and {"s3:*", "*"} & {a.lower() for a in strings(statement.get("Action"))}:
            return True
    return False


def check_bucket_tls(g: Graph) -> Iterator[Violation]:
    for bucket in g.of_type(*BUCKETS):
        policies = g.referrers(bucket, (BUCKET_POLICY,), "bucket")
        if not any(_denies_insecure_transport(document(p, "policy") or {}) for p in policies):
            yield Violation(bucket.urn, f"bucket {bucket.name} accepts requests without TLS: deny"
                                        " s3:* when aws:SecureTransport is false")


def check_egress(g: Graph) -> Iterator[Violation]:
    entries = []
    for sg in g.of_type(*SG_TYPES):
        for entry in sg.items("egress"):
            cidrs = [*as_list(entry.get("cidrBlocks")), *as_list(entry.get("ipv6CidrBlocks"))]
            entries.append((sg, cidrs, entry.get("protocol"), entry.get("fromPort"),
                            entry.get("toPort")))
    for rule in g.of_type(EGRESS_RULE):
        entries.append((rule, [rule.inputs.get("cidrIpv4"), rule.inputs.get("cidrIpv6")],
                        rule.inputs.get("ipProtocol"), rule.inputs.get("fromPort"),
                        rule.inputs.get("toPort")))
    for res, cidrs, protocol, low, high in entries:
        if not any(_internet(c) for c in cidrs if c):
            continue
        low_n, high_n = as_number(low), as_number(high)
        if str(protocol) in ("-1", "all") or low_n is None or low_n != high_n:
            yield Violation(res.urn, f"{res.name} lets traffic out to the internet on"
                                     f" {protocol} {low}-{high}: open only the ports the app"
                                     " needs")


RULES = (
    Rule("TLS-005", "Internet-facing application load balancers are behind a WAF web ACL that"
                    " blocks with AWS's common, known-bad-inputs and SQL injection rule groups"
                    " and logs to the tenant", "in-transit", Severity.mandatory, check_waf,
         "checkov CKV2_AWS_28; the product's OWASP-based engineering practice."),
    Rule("TLS-006", "Target groups speak HTTPS or TLS to their targets", "in-transit",
         Severity.mandatory, check_target_protocols, "checkov CKV_AWS_378."),
    Rule("TLS-007", "Mail clients reach the tenant over implicit TLS (993, 995, 465) only; no"
                    " listener on 25/110/143/587", "in-transit", Severity.mandatory, check_mail),
    Rule("TLS-008", "The app server (nginx) accepts only TLS 1.2/1.3 with the load balancer's"
                    " forward-secret AEAD suites", "in-transit", Severity.mandatory,
         check_app_server_tls),
    Rule("TLS-009", "Every bucket denies requests made without TLS (aws:SecureTransport)",
         "in-transit", Severity.mandatory, check_bucket_tls, "Security Hub S3.5."),
    Rule("NET-009", "Egress to the internet is limited to single ports, never all traffic",
         "isolation", Severity.mandatory, check_egress, "checkov CKV_AWS_382, Security Hub"
                                                        " EC2.18."),
)
