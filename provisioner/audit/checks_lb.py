"""Web traffic: every listener HTTPS with an allowed policy and HSTS, or a 301 to HTTPS.

Also the load balancer's own attributes: invalid header fields dropped, access logs on.
"""

from __future__ import annotations

from typing import Any

from provisioner.audit.context import Context
from provisioner.promises import ALLOWED_TLS_POLICIES, hsts_is_strong

HSTS_ATTRIBUTE = "routing.http.response.strict_transport_security.header_value"
DROP_INVALID = "routing.http.drop_invalid_header_fields.enabled"
ACCESS_LOGS = "access_logs.s3.enabled"
ACCESS_LOGS_BUCKET = "access_logs.s3.bucket"


def _is_https_redirect(action: dict[str, Any]) -> bool:
    redirect = action.get("RedirectConfig") or {}
    return (
        action.get("Type") == "redirect"
        and redirect.get("Protocol") == "HTTPS"
        and redirect.get("StatusCode") == "HTTP_301"
    )


def _check_https(ctx: Context, elb: Any, listener: dict[str, Any]) -> None:
    arn, region, report = listener["ListenerArn"], ctx.target.region, ctx.report
    policy = listener.get("SslPolicy")
    if policy in ALLOWED_TLS_POLICIES:
        report.check("alb.tls-policy", arn)
    else:
        allowed = ", ".join(sorted(ALLOWED_TLS_POLICIES))
        report.fail(
            "in-transit",
            "alb.tls-policy",
            arn,
            region,
            f"TLS policy {policy} is not one of the forward-secret TLS 1.2/1.3 policies: {allowed}",
        )
    attributes = {
        a["Key"]: a.get("Value")
        for a in elb.describe_listener_attributes(ListenerArn=arn).get("Attributes", [])
    }
    header = attributes.get(HSTS_ATTRIBUTE)
    if hsts_is_strong(header):
        report.check("alb.hsts", arn)
    else:
        report.fail(
            "in-transit",
            "alb.hsts",
            arn,
            region,
            f"listener attribute {HSTS_ATTRIBUTE} is {header!r}: needs max-age of at least one"
            " year and includeSubDomains",
        )


def _check_http(ctx: Context, elb: Any, listener: dict[str, Any]) -> None:
    arn, region, report = listener["ListenerArn"], ctx.target.region, ctx.report
    actions = listener.get("DefaultActions", [])
    rules = elb.describe_rules(ListenerArn=arn).get("Rules", [])
    rule_actions = [
        a for rule in rules if not rule.get("IsDefault") for a in rule.get("Actions", [])
    ]
    offending = [a for a in [*actions, *rule_actions] if not _is_https_redirect(a)]
    if actions and not offending:
        report.check("alb.http-redirects", arn)
    else:
        kinds = ", ".join(sorted({str(a.get("Type")) for a in offending})) or "no action"
        report.fail(
            "in-transit",
            "alb.http-redirects",
            arn,
            region,
            f"HTTP listener serves traffic ({kinds}) instead of only a 301 redirect to HTTPS",
        )


def check_load_balancers(ctx: Context) -> None:
    elb: Any = ctx.client("elbv2")
    region, report = ctx.target.region, ctx.report
    found = ctx.of_kind("elasticloadbalancing:loadbalancer")
    kinds = {
        lb["LoadBalancerArn"]: lb.get("Type")
        for lb in (elb.describe_load_balancers(LoadBalancerArns=[r.arn for r in found])[
            "LoadBalancers"] if found else [])
    }  # fmt: skip
    for resource in found:
        lb_arn = resource.arn
        if kinds.get(lb_arn) == "network":
            # The mail NLB: its TLS listeners are checked by nlb.mail-tls; access logs here.
            _check_access_logs(ctx, elb, lb_arn)
            continue
        listeners = [
            listener
            for page in elb.get_paginator("describe_listeners").paginate(LoadBalancerArn=lb_arn)
            for listener in page["Listeners"]
        ]
        for listener in sorted(listeners, key=lambda item: item["ListenerArn"]):
            protocol = listener.get("Protocol")
            if protocol == "HTTPS":
                _check_https(ctx, elb, listener)
            elif protocol == "HTTP":
                _check_http(ctx, elb, listener)
            else:
                report.fail(
                    "in-transit",
                    "alb.listener-protocol",
                    listener["ListenerArn"],
                    region,
                    f"listener protocol {protocol}: only HTTPS, or HTTP redirecting to it",
                )
        attributes = {
            a["Key"]: a.get("Value")
            for a in elb.describe_load_balancer_attributes(LoadBalancerArn=lb_arn)["Attributes"]
        }
        if str(attributes.get(DROP_INVALID)).lower() == "true":
            report.check("alb.drop-invalid-headers", lb_arn)
        else:
            report.fail(
                "in-transit",
                "alb.drop-invalid-headers",
                lb_arn,
                region,
                f"{DROP_INVALID} is {attributes.get(DROP_INVALID)!r}: malformed headers reach"
                " the app",
            )
        _check_access_logs(ctx, elb, lb_arn, attributes)


def _check_access_logs(ctx: Context, elb: Any, lb_arn: str,
                       attributes: dict[str, Any] | None = None) -> None:
    if attributes is None:
        attributes = {
            a["Key"]: a.get("Value")
            for a in elb.describe_load_balancer_attributes(LoadBalancerArn=lb_arn)["Attributes"]
        }
    if str(attributes.get(ACCESS_LOGS)).lower() == "true" and attributes.get(
        ACCESS_LOGS_BUCKET
    ):
        ctx.report.check("alb.access-logs", lb_arn)
    else:
        ctx.report.fail(
            "logging",
            "alb.access-logs",
            lb_arn,
            ctx.target.region,
            f"access logs are off ({ACCESS_LOGS}={attributes.get(ACCESS_LOGS)!r})",
        )
