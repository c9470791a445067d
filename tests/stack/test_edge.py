"""The load balancer is TLS-only with HSTS; HTTP only redirects; access logs are on."""

from __future__ import annotations

from provisioner.promises import ALLOWED_TLS_POLICIES, hsts_is_strong
from tests.stack.conftest import Plan

LISTENER = "aws:lb/listener:Listener"
LB = "aws:lb/loadBalancer:LoadBalancer"


def _listeners(planned: Plan) -> dict[float, dict]:
    return {lst["inputs"]["port"]: lst["inputs"] for lst in planned.of_type(LISTENER)}


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
    assert planned.one(LB)["inputs"]["dropInvalidHeaderFields"] is True


def test_access_logs_go_to_the_tenants_private_encrypted_bucket(planned: Plan) -> None:
    logs = planned.one(LB)["inputs"]["accessLogs"]
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
               if r["inputs"]["type"] == "A"]  # fmt: skip
    assert len(records) == 1
    assert records[0]["inputs"]["name"] == f"{planned.spec.slug}.crm.example.com"
    assert records[0]["region"] == "global"
