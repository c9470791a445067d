"""The tenant's front doors: a TLS-only Application Load Balancer with HSTS behind a web
application firewall, a Network Load Balancer for mail clients (implicit TLS only), their
certificate, DNS names, and an access-log bucket.

- HTTPS 443 with a TLS 1.2/1.3, forward-secret-only policy (set explicitly: the API's default is
  still ELBSecurityPolicy-2016-08) and the HSTS header added by the listener to every response.
- HTTP 80 answers nothing but a 301 to HTTPS.
- AWS WAF (v2) in front of the ALB: AWS managed rule groups (common rule set, known bad
  inputs, SQL injection) with their own block actions; its logs go to the tenant's encrypted
  log group, with the Authorization and Cookie headers redacted.
- Mail clients: TLS listeners for IMAPS 993, POP3S 995 and SMTPS 465 with the same policy and
  certificate (`mail.<hostname>`), forwarding over TLS; no listener on 25/110/143/587.
- A tenant created directly has a certificate of its own; a pooled instance is served by its
  region's wildcard certificate (`wildcard_certificate_arn`), so no certificate validation waits
  on a signup, and gets its DNS records only when it is bound to a customer.
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
from stacks.components.certificate import dns_validated_certificate
from stacks.components.network import APP_PORT, HTTP_PORT, HTTPS_PORT

ACCESS_LOG_PREFIX = "alb"
MAIL_ACCESS_LOG_PREFIX = "nlb"
# AWS managed rule groups, evaluated in this order; each keeps its own (block) actions.
WAF_MANAGED_RULE_GROUPS = (
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesSQLiRuleSet",
)
# Mail protocols the product offers, each on its implicit-TLS port.
MAIL_LISTENERS = (("imaps", 993), ("pop3s", 995), ("smtps", 465))
WAF_REDACTED_HEADERS = ("authorization", "cookie")  # secrets never reach the logs
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
        mail_security_group_id: pulumi.Input[str],
        waf_log_group_arn: pulumi.Input[str],
        suspended: bool = False,
        wildcard_certificate_arn: pulumi.Input[str] | None = None,
        mail_hostname: str | None = None,
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
        self.target_group = target_group  # watched by the tenant's alarms
        aws.lb.TargetGroupAttachment(
            f"{name}-app-server",
            target_group_arn=target_group.arn,
            target_id=instance_id,
            port=APP_PORT,
            region=self.region,
            opts=self.child(),
        )
        # A pooled instance's mail name sits under the region's wildcard (`<slug>.mail.<domain>`,
        # stacks.tenant_stack.mail_hostname_for); a direct tenant's is `mail.<hostname>`.
        self.mail_hostname = mail_hostname or f"mail.{hostname}"
        # Watched by the tenant's alarms (days to expiry).
        self.certificate_arn: pulumi.Output[str] = (
            pulumi.Output.from_input(wildcard_certificate_arn)
            if wildcard_certificate_arn is not None
            else self._certificate(name, hostname, hosted_zone_id).certificate_arn
        )
        certificate_arn = self.certificate_arn
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
        self._firewall(name, waf_log_group_arn)
        self._mail(name, subnet_ids, mail_security_group_id, vpc_id, instance_id,
                   certificate_arn, hosted_zone_id, logs)
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

    def _firewall(self, name: str, log_group_arn: pulumi.Input[str]) -> None:
        """WAFv2 web ACL on the ALB: managed rule groups in block mode, logged."""
        metric = f"tenant-{self.spec.instance_id}"

        def visibility(metric_name: str) -> aws.wafv2.WebAclVisibilityConfigArgsDict:
            return {"cloudwatch_metrics_enabled": True, "metric_name": metric_name,
                    "sampled_requests_enabled": True}

        self.web_acl = aws.wafv2.WebAcl(
            f"{name}-waf",
            name=metric,
            scope="REGIONAL",
            default_action={"allow": {}},
            rules=[
                {
                    "name": group,
                    "priority": priority,
                    # `none` keeps the group's own actions (block); `count` would only watch.
                    "override_action": {"none": {}},
                    "statement": {"managed_rule_group_statement": {"vendor_name": "AWS",
                                                                   "name": group}},
                    "visibility_config": visibility(f"{metric}-{group}"),
                }
                for priority, group in enumerate(WAF_MANAGED_RULE_GROUPS)
            ],
            visibility_config=visibility(metric),
            region=self.region,
            tags=self.tags(),
            opts=self.child(),
        )  # fmt: skip
        aws.wafv2.WebAclAssociation(
            f"{name}-waf-alb",
            resource_arn=self.lb.arn,
            web_acl_arn=self.web_acl.arn,
            region=self.region,
            opts=self.child(),
        )
        aws.wafv2.WebAclLoggingConfiguration(
            f"{name}-waf-logs",
            resource_arn=self.web_acl.arn,
            log_destination_configs=[log_group_arn],
            redacted_fields=[{"single_header": {"name": h}} for h in WAF_REDACTED_HEADERS],
            region=self.region,
            opts=self.child(),
        )

    def _mail(
        self,
        name: str,
        subnet_ids: Sequence[pulumi.Input[str]],
        security_group_id: pulumi.Input[str],
        vpc_id: pulumi.Input[str],
        instance_id: pulumi.Input[str],
        certificate_arn: pulumi.Input[str],
        hosted_zone_id: str,
        logs: aws.s3.Bucket,
    ) -> None:
        """Network Load Balancer for mail clients: TLS listeners only, TLS to the app server."""
        self.mail_lb = aws.lb.LoadBalancer(
            f"{name}-nlb",
            load_balancer_type="network",
            internal=False,
            subnets=list(subnet_ids),
            security_groups=[security_group_id],
            enable_cross_zone_load_balancing=True,
            enable_deletion_protection=self.spec.plan.deletion_protection,
            access_logs={"bucket": logs.bucket, "prefix": MAIL_ACCESS_LOG_PREFIX,
                         "enabled": True},
            region=self.region,
            tags=self.tags(purpose="mail"),
            opts=self.child(depends_on=[self._log_policy]),
        )  # fmt: skip
        for protocol, port in MAIL_LISTENERS:
            target_group = aws.lb.TargetGroup(
                f"{name}-{protocol}",
                port=port,
                protocol="TLS",
                target_type="instance",
                vpc_id=vpc_id,
                health_check={"protocol": "TCP"},
                region=self.region,
                tags=self.tags(),
                opts=self.child(),
            )
            aws.lb.TargetGroupAttachment(
                f"{name}-{protocol}-server",
                target_group_arn=target_group.arn,
                target_id=instance_id,
                port=port,
                region=self.region,
                opts=self.child(),
            )
            aws.lb.Listener(
                f"{name}-{protocol}",
                load_balancer_arn=self.mail_lb.arn,
                port=port,
                protocol="TLS",
                ssl_policy=TLS_POLICY,
                certificate_arn=certificate_arn,
                default_actions=[{"type": "forward", "target_group_arn": target_group.arn}],
                region=self.region,
                tags=self.tags(),
                opts=self.child(),
            )
        if not self.spec.bound:
            return  # a pooled instance has no customer name yet
        aws.route53.Record(
            f"{name}-mail-dns",
            zone_id=hosted_zone_id,
            name=self.mail_hostname,
            type="A",
            aliases=[{"name": self.mail_lb.dns_name, "zone_id": self.mail_lb.zone_id,
                      "evaluate_target_health": True}],
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
                    "id": "expire-access-logs" if prefix == ACCESS_LOG_PREFIX
                    else f"expire-{prefix}-access-logs",
                    "status": "Enabled",
                    "filter": {"prefix": f"{prefix}/"},
                    "expiration": {"days": self.spec.plan.security_log_retention_days},
                }
                for prefix in (ACCESS_LOG_PREFIX, MAIL_ACCESS_LOG_PREFIX)
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
                            # NLB access logs are delivered by the log delivery service,
                            # for this account only.
                            {
                                "Sid": "NlbLogDelivery",
                                "Effect": "Allow",
                                "Principal": {"Service": "delivery.logs.amazonaws.com"},
                                "Action": "s3:PutObject",
                                "Resource": f"{v[0]}/{MAIL_ACCESS_LOG_PREFIX}/AWSLogs/{v[1]}/*",
                                "Condition": {"StringEquals": {"aws:SourceAccount": v[1]}},
                            },
                            {
                                "Sid": "NlbLogDeliveryAclCheck",
                                "Effect": "Allow",
                                "Principal": {"Service": "delivery.logs.amazonaws.com"},
                                "Action": "s3:GetBucketAcl",
                                "Resource": v[0],
                                "Condition": {"StringEquals": {"aws:SourceAccount": v[1]}},
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
        return dns_validated_certificate(
            f"{name}-certificate",
            hostname,
            self.mail_hostname,
            zone_id=hosted_zone_id,
            region=self.region,
            tags=self.tags(),
            opts=self.child(),
        )
