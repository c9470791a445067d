"""The load balancer is TLS-only with HSTS; HTTP only redirects; access logs are on."""

from __future__ import annotations

from provisioner.promises import ALLOWED_TLS_POLICIES, hsts_is_strong
from tests.stack.conftest import Plan

LISTENER = "aws:lb/listener:Listener"
LB = "aws:lb/loadBalancer:LoadBalancer"


def _alb(planned: Plan) -> dict:
    return planned.one(LB, "-alb")


def _listeners(planned: Plan) -> dict[float, dict]:
    """The application load balancer's listeners by port."""
    alb = planned.arn(_alb(planned))
    return {lst["inputs"]["port"]: lst["inputs"] for lst in planned.of_type(LISTENER)
            if lst["inputs"]["loadBalancerArn"] == alb}


def test_load_balancer_has_exactly_an_https_and_an_http_listener(planned: Plan) -> None:
    assert sorted(_listeners(planned)) == [80.0, 443.0]


def test_https_listener_allows_only_tls12_and_13_forward_secret_policies(planned: Plan) -> None:
    https = _listeners(planned)[443.0]
    assert https["protocol"] == "HTTPS"
    assert https["sslPolicy"] in ALLOWED_TLS_POLICIES


def test_https_listener_sets_hsts_for_a_year_with_subdomains(planned: Plan) -> None:
    header = _listeners(planned)[443.0]["routingHttpResponseStrictTransportSecurityHeaderValue"]
    assert hsts_is_strong(header)


def test_https_listener_uses_the_validated_certificate(planned: Plan) -> None:
    certificate = planned.one("aws:acm/certificate:Certificate")
    assert certificate["inputs"]["domainName"] == f"{planned.spec.slug}.crm.example.com"
    assert certificate["inputs"]["validationMethod"] == "DNS"
    assert _listeners(planned)[443.0]["certificateArn"] == planned.arn(certificate)


def test_http_listener_only_redirects_to_https_with_301(planned: Plan) -> None:
    http = _listeners(planned)[80.0]
    assert http["protocol"] == "HTTP"
    assert http["defaultActions"] == [
        {"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443",
                                          "statusCode": "HTTP_301"}}
    ]  # fmt: skip


def test_invalid_header_fields_are_dropped(planned: Plan) -> None:
    assert _alb(planned)["inputs"]["dropInvalidHeaderFields"] is True


def test_access_logs_go_to_the_tenants_private_encrypted_bucket(planned: Plan) -> None:
    logs = _alb(planned)["inputs"]["accessLogs"]
    bucket = planned.one("aws:s3/bucket:Bucket")
    assert logs["enabled"] is True and logs["bucket"] == f"{bucket['name']}-generated"
    sse = planned.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    )
    # ELB log delivery supports SSE-S3 (AES-256) only.
    rule = sse["inputs"]["rules"][0]["applyServerSideEncryptionByDefault"]
    assert rule["sseAlgorithm"] == "AES256"
    block = planned.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")["inputs"]
    assert all(block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy",
                                          "ignorePublicAcls", "restrictPublicBuckets"))  # fmt: skip


def test_dns_record_points_the_tenant_hostname_at_the_load_balancer(planned: Plan) -> None:
    records = [r for r in planned.of_type("aws:route53/record:Record")
               if r["inputs"]["type"] == "A" and not r["inputs"]["name"].startswith("mail.")]
    assert len(records) == 1
    assert records[0]["inputs"]["name"] == f"{planned.spec.slug}.crm.example.com"
    assert records[0]["region"] == "global"


# --- web application firewall and mail client access --------------------------------------
def test_alb_is_behind_a_waf_with_managed_rule_groups_in_block_mode(planned: Plan) -> None:
    acl = planned.one("aws:wafv2/webAcl:WebAcl")
    assert acl["inputs"]["scope"] == "REGIONAL"
    groups = [r["statement"]["managedRuleGroupStatement"] for r in acl["inputs"]["rules"]]
    assert [(g["vendorName"], g["name"]) for g in groups] == [
        ("AWS", "AWSManagedRulesCommonRuleSet"), ("AWS", "AWSManagedRulesKnownBadInputsRuleSet"),
        ("AWS", "AWSManagedRulesSQLiRuleSet")]
    assert all(r["overrideAction"] == {"none": {}} for r in acl["inputs"]["rules"])
    association = planned.one("aws:wafv2/webAclAssociation:WebAclAssociation")
    alb = next(lb for lb in planned.of_type("aws:lb/loadBalancer:LoadBalancer")
               if lb["inputs"]["loadBalancerType"] == "application")
    assert association["inputs"]["resourceArn"] == planned.arn(alb)
    assert association["inputs"]["webAclArn"] == planned.arn(acl)


def test_waf_logs_go_to_the_tenants_encrypted_log_group_without_secrets(planned: Plan) -> None:
    logging = planned.one("aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration")
    group = next(g for g in planned.of_type("aws:cloudwatch/logGroup:LogGroup")
                 if g["inputs"]["name"].startswith("aws-waf-logs-"))
    assert logging["inputs"]["logDestinationConfigs"] == [planned.arn(group)]
    assert group["inputs"]["kmsKeyId"] == planned.tenant_key_arn
    redacted = {f["singleHeader"]["name"] for f in logging["inputs"]["redactedFields"]}
    assert redacted == {"authorization", "cookie"}


def test_mail_clients_get_implicit_tls_listeners_only(planned: Plan) -> None:
    nlb = next(lb for lb in planned.of_type("aws:lb/loadBalancer:LoadBalancer")
               if lb["inputs"]["loadBalancerType"] == "network")
    listeners = [lst for lst in planned.of_type("aws:lb/listener:Listener")
                 if lst["inputs"]["loadBalancerArn"] == planned.arn(nlb)]
    assert sorted(int(lst["inputs"]["port"]) for lst in listeners) == [465, 993, 995]
    https = next(lst for lst in planned.of_type("aws:lb/listener:Listener")
                 if lst["inputs"]["protocol"] == "HTTPS")
    for listener in listeners:
        assert listener["inputs"]["protocol"] == "TLS"
        assert listener["inputs"]["sslPolicy"] == https["inputs"]["sslPolicy"]
        assert listener["inputs"]["certificateArn"] == https["inputs"]["certificateArn"]
    groups = [tg for tg in planned.of_type("aws:lb/targetGroup:TargetGroup")
              if tg["inputs"]["protocol"] == "TLS"]
    assert sorted(int(tg["inputs"]["port"]) for tg in groups) == [465, 993, 995]
    assert nlb["inputs"]["accessLogs"]["enabled"] is True
    assert nlb["inputs"]["enableDeletionProtection"] is planned.spec.plan.deletion_protection


def test_no_plaintext_mail_port_is_open_anywhere(planned: Plan) -> None:
    for sg in planned.of_type("aws:ec2/securityGroup:SecurityGroup"):
        for rule in sg["inputs"].get("ingress", []):
            ports = set(range(int(rule["fromPort"]), int(rule["toPort"]) + 1))
            assert not ports & {25, 110, 143, 587}, sg["name"]


def test_certificate_covers_the_mail_hostname_and_is_validated_for_both(planned: Plan) -> None:
    cert = planned.one("aws:acm/certificate:Certificate")
    mail = f"mail.{cert['inputs']['domainName']}"
    assert cert["inputs"]["subjectAlternativeNames"] == [mail]
    validation = planned.one("aws:acm/certificateValidation:CertificateValidation")
    assert len(validation["inputs"]["validationRecordFqdns"]) == 2
    assert any(r["inputs"]["name"] == mail for r in planned.of_type("aws:route53/record:Record"))
