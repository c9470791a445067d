"""The tenant's front door: a TLS-only Application Load Balancer with HSTS, its certificate,
its DNS name, and an access-log bucket.

- HTTPS 443 with a TLS 1.2/1.3, forward-secret-only policy (set explicitly: the API's default is
  still ELBSecurityPolicy-2016-08) and the HSTS header added by the listener to every response.
- HTTP 80 answers nothing but a 301 to HTTPS.
- A tenant created directly has a certificate of its own; a pooled instance is served by its
  region's wildcard certificate (`wildcard_certificate_arn`), so no certificate validation waits
  on a signup, and gets its DNS record only when it is bound to a customer.
- Access logs go to a bucket of the tenant's own. ELB log delivery supports only SSE-S3
  (AES-256) on the target bucket, not SSE-KMS, so that bucket uses SSE-S3:
  https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from provisioner.promises import HSTS_HEADER, TLS_POLICY
from provisioner.spec import TenantSpec
from stacks.components.base import TenantPart
from stacks.components.network import APP_PORT, HTTP_PORT, HTTPS_PORT

ACCESS_LOG_PREFIX = "alb"
# What a suspended tenant's HTTPS listener answers instead of forwarding to the app.
SUSPENDED_RESPONSE: aws.lb.ListenerDefaultActionArgsDict = {
    "type": "fixed-response",
    "fixed_response": {
        "content_type": "text/plain",
        "message_body": "This instance is suspended. Contact your administrator.",
        "status_code": "503",
    },
}


class Edge(TenantPart):
    """Access-log bucket, load balancer, listeners, certificate and DNS."""

    def __init__(
        self,
        name: str,
        spec: TenantSpec,
        hostname: str,
        hosted_zone_id: str,
        vpc_id: pulumi.Input[str],
        subnet_ids: Sequence[pulumi.Input[str]],
        security_group_id: pulumi.Input[str],
        instance_id: pulumi.Input[str],
        account_id: pulumi.Input[str],
        suspended: bool = False,
        wildcard_certificate_arn: pulumi.Input[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("Edge", name, spec, opts)
        self.hostname = hostname
        logs = self._access_log_bucket(name, account_id)
        self.lb = aws.lb.LoadBalancer(
            f"{name}-alb",
            load_balancer_type="application",
            internal=False,
            subnets=list(subnet_ids),
            security_groups=[security_group_id],
            drop_invalid_header_fields=True,
            desync_mitigation_mode="strictest",
            enable_deletion_protection=spec.plan.deletion_protection,
            access_logs={"bucket": logs.bucket, "prefix": ACCESS_LOG_PREFIX, "enabled": True},
            region=self.region,
            tags=self.tags(),
            opts=self.child(depends_on=[self._log_policy]),
        )
        target_group = aws.lb.TargetGroup(
            f"{name}-app",
            port=APP_PORT,
            protocol="HTTPS",
            target_type="instance",
            vpc_id=vpc_id,
            health_check={"protocol": "HTTPS", "path": "/healthz", "matcher": "200"},
            region=self.region,
            tags=self.tags(),
            opts=self.child(),
        )
        aws.lb.TargetGroupAttachment(
            f"{name}-app-server",
            target_group_arn=target_group.arn,
            target_id=instance_id,
            port=APP_PORT,
            region=self.region,
            opts=self.child(),
        )
        certificate_arn = (
            wildcard_certificate_arn
            if wildcard_certificate_arn is not None
            else self._certificate(name, hostname, hosted_zone_id).certificate_arn
        )
        aws.lb.Listener(
            f"{name}-https",
            load_balancer_arn=self.lb.arn,
            port=HTTPS_PORT,
            protocol="HTTPS",
            ssl_policy=TLS_POLICY,
            certificate_arn=certificate_arn,
            routing_http_response_strict_transport_security_header_value=HSTS_HEADER,
            default_actions=[
                SUSPENDED_RESPONSE
                if suspended
                else {"type": "forward", "target_group_arn": target_group.arn}
            ],
            region=self.region,
            tags=self.tags(),
            opts=self.child(),
        )
        aws.lb.Listener(
            f"{name}-http-redirect",
            load_balancer_arn=self.lb.arn,
            port=HTTP_PORT,
            protocol="HTTP",
            default_actions=[
                {
                    "type": "redirect",
                    "redirect": {"protocol": "HTTPS", "port": str(HTTPS_PORT),
                                 "status_code": "HTTP_301"},
                }
            ],
            region=self.region,
            tags=self.tags(),
            opts=self.child(),
        )  # fmt: skip
        if spec.bound:  # created by binding: a pooled instance has no customer name yet
            self._dns_record(name, hostname, hosted_zone_id)
        self.register_outputs({"hostname": hostname, "lb_dns_name": self.lb.dns_name})

    def _dns_record(self, name: str, hostname: str, hosted_zone_id: str) -> None:
        aws.route53.Record(
            f"{name}-dns",
            zone_id=hosted_zone_id,
            name=hostname,
            type="A",
            aliases=[
                {"name": self.lb.dns_name, "zone_id": self.lb.zone_id,
                 "evaluate_target_health": True}
            ],
            opts=self.child(),
        )  # fmt: skip

    def _access_log_bucket(self, name: str, account_id: pulumi.Input[str]) -> aws.s3.Bucket:
        bucket = aws.s3.Bucket(
            f"{name}-access-logs",
            force_destroy=True,  # deleting a tenant deletes its logs
            region=self.region,
            tags=self.tags(purpose="alb-access-logs"),
            opts=self.child(),
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-access-logs-sse",
            bucket=bucket.id,
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}],
            region=self.region,
            opts=self.child(),
        )
        aws.s3.BucketPublicAccessBlock(
            f"{name}-access-logs-private",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            region=self.region,
            opts=self.child(),
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-access-logs-owner",
            bucket=bucket.id,
            rule={"object_ownership": "BucketOwnerEnforced"},
            region=self.region,
            opts=self.child(),
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-access-logs-expiry",
            bucket=bucket.id,
            rules=[
                {
                    "id": "expire-access-logs",
                    "status": "Enabled",
                    "filter": {"prefix": f"{ACCESS_LOG_PREFIX}/"},
                    "expiration": {"days": self.spec.plan.log_retention_days},
                }
            ],
            region=self.region,
            opts=self.child(),
        )
        elb_account = self.spec.location.elb_account_id
        self._log_policy = aws.s3.BucketPolicy(
            f"{name}-access-logs-policy",
            bucket=bucket.id,
            policy=pulumi.Output.all(bucket.arn, account_id).apply(
                lambda v: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "ElbLogDelivery",
                                "Effect": "Allow",
                                "Principal": {"AWS": f"arn:aws:iam::{elb_account}:root"},
                                "Action": "s3:PutObject",
                                "Resource": f"{v[0]}/{ACCESS_LOG_PREFIX}/AWSLogs/{v[1]}/*",
                            },
                            {
                                "Sid": "DenyInsecureTransport",
                                "Effect": "Deny",
                                "Principal": "*",
                                "Action": "s3:*",
                                "Resource": [v[0], f"{v[0]}/*"],
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            },
                        ],
                    },
                    sort_keys=True,
                )
            ),
            region=self.region,
            opts=self.child(),
        )
        return bucket

    def _certificate(
        self, name: str, hostname: str, hosted_zone_id: str
    ) -> aws.acm.CertificateValidation:
        certificate = aws.acm.Certificate(
            f"{name}-certificate",
            domain_name=hostname,
            validation_method="DNS",
            key_algorithm="EC_prime256v1",
            region=self.region,
            tags=self.tags(),
            opts=self.child(),
        )
        option = certificate.domain_validation_options[0]
        record = aws.route53.Record(
            f"{name}-certificate-validation-record",
            zone_id=hosted_zone_id,
            name=option.resource_record_name,
            type=option.resource_record_type,
            records=[option.resource_record_value],
            ttl=300,
            allow_overwrite=True,
            opts=self.child(),
        )
        return aws.acm.CertificateValidation(
            f"{name}-certificate-validation",
            certificate_arn=certificate.arn,
            validation_record_fqdns=[record.fqdn],
            region=self.region,
            opts=self.child(),
        )
