"""A location's platform stack: what all its tenants share and none of them may own.

- **The alert topic** (SNS `provisioner-alerts`, encrypted under a customer-managed key of the
  platform's own): every tenant alarm of the region notifies it; its subscriptions come from
  configuration (the RegionSpec).
- **EventBridge rules** that turn AWS Backup backup-job, copy-job and restore-job failures, and
  `DisableKey`/`ScheduleKeyDeletion` calls on KMS keys (the tenants' keys live in this account
  and region), into alerts on that topic.
  https://docs.aws.amazon.com/aws-backup/latest/devguide/eventbridge.html
  https://docs.aws.amazon.com/kms/latest/developerguide/deleting-keys-creating-cloudwatch-alarm.html
- **The CloudTrail trail** the KMS rule depends on: "AWS API Call via CloudTrail" events reach
  EventBridge only while a trail with logging enabled records them ("To record events with one
  of the CloudTrail detail-type values, you must enable a CloudTrail trail with logging",
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event-cloudtrail.html).
  One trail per location, in the location's region only (not multi-region): each location's
  stack records its own region, and its audit records stay in its jurisdiction. Management
  events (read and write), log file validation (signed digests), files encrypted under the
  platform key; global-service events (IAM, STS) only in us-east-1, where AWS delivers them,
  so no two trails record them twice. Its bucket is private, TLS-only, versioned, encrypted
  under the platform key, access-logged to a second bucket (SSE-S3: server access logs support
  no other encryption) and kept `TRAIL_RETENTION_DAYS`.
- **The warm pools' wildcard certificate** (ACM, DNS-validated in the tenants' zone): `*.<domain>`
  for the apps and `*.mail.<domain>` for the mail names, so a pooled instance is served from the
  moment it is built and binding it to a customer waits on no validation. A wildcard covers one
  label, hence the mail scheme `<slug>.mail.<domain>` for pooled instances
  (stacks.tenant_stack.mail_hostname_for); tenants built directly keep their own certificate
  for `<slug>.<domain>` and `mail.<slug>.<domain>`. Issued once, renewed by ACM while the
  validation records stay.
  https://docs.aws.amazon.com/acm/latest/userguide/acm-certificate.html (wildcard names)

Pure like the tenant stack: a function of the RegionSpec, no registry, boto3, CLI or clock.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
from pulumi_aws.s3 import (
    BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs as SseByDefault,  # noqa: E501
)

from provisioner.promises import ALERT_TOPIC_NAME
from provisioner.region_spec import RegionSpec
from stacks.components.certificate import dns_validated_certificate

TYPE = "provisioner:region:Platform"
ALERT_KEY_ALIAS = "alias/provisioner-alerts"
# The services that publish to the topic: EventBridge rules and CloudWatch alarms.
PUBLISHERS = ("events.amazonaws.com", "cloudwatch.amazonaws.com")
# (rule name, detail-type, the detail field AWS Backup reports in, failure values)
BACKUP_FAILURES = (
    ("backup-job-failed", "Backup Job State Change", "state", ["FAILED", "ABORTED", "EXPIRED"]),
    ("copy-job-failed", "Copy Job State Change", "state", ["FAILED"]),
    ("restore-job-failed", "Restore Job State Change", "status", ["FAILED"]),
)
KEY_EVENTS = ("DisableKey", "ScheduleKeyDeletion")
TRAIL = "cloudtrail.amazonaws.com"
TRAIL_NAME = "provisioner-platform"  # one per region: the same name in every location
S3_LOGGING = "logging.s3.amazonaws.com"
GLOBAL_EVENTS_REGION = "us-east-1"  # where AWS delivers IAM/STS (global service) events
TRAIL_RETENTION_DAYS = 365  # audit records of the platform, a year like tenants' security logs
NONCURRENT_DAYS = 30  # an expired or overwritten version is gone a month later


def backup_failure_pattern(detail_type: str, field: str, values: list[str]) -> str:
    return json.dumps({"source": ["aws.backup"], "detail-type": [detail_type],
                       "detail": {field: values}}, sort_keys=True)


def key_deletion_pattern() -> str:
    return json.dumps({"source": ["aws.kms"], "detail-type": ["AWS API Call via CloudTrail"],
                       "detail": {"eventSource": ["kms.amazonaws.com"],
                                  "eventName": list(KEY_EVENTS)}}, sort_keys=True)


class RegionPlatform(pulumi.ComponentResource):
    """The alert topic and the rules that feed it, for one location."""

    def __init__(
        self, name: str, spec: RegionSpec, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, opts)
        region, tags = spec.region, spec.tags()
        child = pulumi.ResourceOptions(parent=self)
        account = aws.get_caller_identity_output().account_id
        trail_name = TRAIL_NAME
        trail_arn = account.apply(
            lambda a: f"arn:aws:cloudtrail:{region}:{a}:trail/{trail_name}")
        self.key = aws.kms.Key(
            f"{name}-alerts-key",
            # Also the trail's key; the description stays as it was (a change would be an
            # update per location that names the location, so it would not group).
            description=f"Alert topic of location {spec.location.code}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=pulumi.Output.all(account, trail_arn).apply(lambda v: _key_policy(*v)),
            region=region,
            tags=tags,
            opts=child,
        )
        aws.kms.Alias(f"{name}-alerts-key-alias", name=ALERT_KEY_ALIAS,
                      target_key_id=self.key.key_id, region=region, opts=child)
        self.topic = aws.sns.Topic(
            f"{name}-alerts",
            name=ALERT_TOPIC_NAME,
            display_name=f"provisioner alerts {spec.location.code}",
            kms_master_key_id=self.key.arn,
            region=region,
            tags=tags,
            opts=child,
        )
        aws.sns.TopicPolicy(
            f"{name}-alerts-policy",
            arn=self.topic.arn,
            policy=pulumi.Output.all(self.topic.arn, account).apply(
                lambda v: _topic_policy(v[0], v[1])),
            region=region,
            opts=child,
        )
        for i, sub in enumerate(spec.subscriptions):
            aws.sns.TopicSubscription(
                f"{name}-alerts-subscription-{i}",
                topic=self.topic.arn,
                protocol=sub.protocol,
                endpoint=sub.endpoint,
                region=region,
                opts=child,
            )
        rules = [(rule, backup_failure_pattern(kind, field, values),
                  f"AWS Backup: {kind.lower()} failed")
                 for rule, kind, field, values in BACKUP_FAILURES]
        rules.append(("key-disabled-or-deleted", key_deletion_pattern(),
                      "KMS: a key was disabled or scheduled for deletion"))
        for rule_name, pattern, description in rules:
            rule = aws.cloudwatch.EventRule(
                f"{name}-{rule_name}",
                name=f"provisioner-{rule_name}",
                description=description,
                event_pattern=pattern,
                state="ENABLED",
                region=region,
                tags=tags,
                opts=child,
            )
            aws.cloudwatch.EventTarget(
                f"{name}-{rule_name}-alert",
                rule=rule.name,
                arn=self.topic.arn,
                region=region,
                opts=child,
            )
        self.trail = self._trail(name, spec, trail_name, trail_arn, account)
        certificate = self._wildcard_certificate(name, spec, child)
        self.outputs: dict[str, pulumi.Input[str]] = {
            "alert_topic_arn": self.topic.arn,
            "trail_arn": self.trail.arn,
            "region": region,
            "wildcard_certificate_arn": certificate.certificate_arn,
        }
        self.register_outputs(self.outputs)

    def _trail(self, name: str, spec: RegionSpec, trail_name: str,
               trail_arn: pulumi.Output[str], account: pulumi.Output[str]) -> aws.cloudtrail.Trail:
        region, tags = spec.region, spec.tags()
        child = pulumi.ResourceOptions(parent=self)
        access_logs = self._bucket(f"{name}-trail-access-logs", region, tags, child, kms=None)
        logs = self._bucket(f"{name}-trail-logs", region, tags, child, kms=self.key.arn)
        aws.s3.BucketVersioning(
            f"{name}-trail-logs-versioning",
            bucket=logs.id,
            versioning_configuration={"status": "Enabled"},
            region=region,
            opts=child,
        )
        aws.s3.BucketLogging(
            f"{name}-trail-logs-access-logging",
            bucket=logs.id,
            target_bucket=access_logs.id,
            target_prefix="trail-logs/",
            region=region,
            opts=child,
        )
        access_policy = aws.s3.BucketPolicy(
            f"{name}-trail-access-logs-policy",
            bucket=access_logs.id,
            policy=pulumi.Output.all(access_logs.arn, logs.arn, account).apply(
                lambda v: _access_log_policy(*v)),
            region=region,
            opts=child,
        )
        policy = aws.s3.BucketPolicy(
            f"{name}-trail-logs-policy",
            bucket=logs.id,
            policy=pulumi.Output.all(logs.arn, account, trail_arn).apply(
                lambda v: _trail_bucket_policy(*v)),
            region=region,
            opts=child,
        )
        return aws.cloudtrail.Trail(
            f"{name}-trail",
            name=trail_name,
            s3_bucket_name=logs.id,
            is_multi_region_trail=False,
            include_global_service_events=region == GLOBAL_EVENTS_REGION,
            enable_logging=True,
            enable_log_file_validation=True,
            kms_key_id=self.key.arn,
            event_selectors=[{"read_write_type": "All", "include_management_events": True}],
            region=region,
            tags=tags,
            # CloudTrail checks at creation that it may write to the bucket and use the key.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy, access_policy]),
        )

    @staticmethod
    def _bucket(logical: str, region: str, tags: dict[str, str], child: pulumi.ResourceOptions,
                kms: pulumi.Input[str] | None) -> aws.s3.Bucket:
        """A private bucket kept TRAIL_RETENTION_DAYS, encrypted under `kms` (SSE-S3 if None)."""
        bucket = aws.s3.Bucket(logical, region=region, tags=tags, opts=child)
        by_default = SseByDefault(sse_algorithm="aws:kms" if kms is not None else "AES256",
                                  kms_master_key_id=kms)
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{logical}-sse",
            bucket=bucket.id,
            rules=[aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=by_default,
                bucket_key_enabled=kms is not None)],
            region=region,
            opts=child,
        )
        aws.s3.BucketPublicAccessBlock(
            f"{logical}-private",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            region=region,
            opts=child,
        )
        aws.s3.BucketOwnershipControls(
            f"{logical}-owner",
            bucket=bucket.id,
            rule={"object_ownership": "BucketOwnerEnforced"},
            region=region,
            opts=child,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{logical}-expiry",
            bucket=bucket.id,
            rules=[{"id": "expire", "status": "Enabled", "filter": {},
                    "expiration": {"days": TRAIL_RETENTION_DAYS},
                    "noncurrent_version_expiration": {"noncurrent_days": NONCURRENT_DAYS}}],
            region=region,
            opts=child,
        )
        return bucket

    def _wildcard_certificate(
        self, name: str, spec: RegionSpec, child: pulumi.ResourceOptions
    ) -> aws.acm.CertificateValidation:
        apps, mail = wildcard_names(spec.domain)
        return dns_validated_certificate(
            f"{name}-wildcard",
            apps,
            mail,
            zone_id=spec.hosted_zone_id,
            region=spec.region,
            tags=spec.tags(),
            opts=child,
        )


def wildcard_names(domain: str) -> tuple[str, str]:
    """The certificate's names: the apps' (`*.<domain>`, what pooled instances look up), then
    the mail names' (`*.mail.<domain>`)."""
    return f"*.{domain}", f"*.mail.{domain}"


def _deny_plaintext(bucket_arn: str) -> dict[str, object]:
    return {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*",
            "Action": "s3:*", "Resource": [bucket_arn, f"{bucket_arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}


def _trail_bucket_policy(bucket_arn: str, account: str, trail_arn: str) -> str:
    """CloudTrail's bucket policy (AWS docs: "Amazon S3 bucket policy for CloudTrail"), for
    this trail only (aws:SourceArn), plus TLS only."""
    only_this_trail = {"aws:SourceArn": trail_arn}
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "CloudTrailAclCheck", "Effect": "Allow", "Principal": {"Service": TRAIL},
             "Action": "s3:GetBucketAcl", "Resource": bucket_arn,
             "Condition": {"StringEquals": only_this_trail}},
            {"Sid": "CloudTrailWrite", "Effect": "Allow", "Principal": {"Service": TRAIL},
             "Action": "s3:PutObject", "Resource": f"{bucket_arn}/AWSLogs/{account}/*",
             "Condition": {"StringEquals": {**only_this_trail,
                                            "s3:x-amz-acl": "bucket-owner-full-control"}}},
            _deny_plaintext(bucket_arn),
        ],
    }, sort_keys=True)  # fmt: skip


def _access_log_policy(bucket_arn: str, source_bucket_arn: str, account: str) -> str:
    """S3 server access log delivery from the trail's bucket only, plus TLS only."""
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "S3ServerAccessLogs", "Effect": "Allow", "Principal": {"Service": S3_LOGGING},
             "Action": "s3:PutObject", "Resource": f"{bucket_arn}/trail-logs/*",
             "Condition": {"ArnLike": {"aws:SourceArn": source_bucket_arn},
                           "StringEquals": {"aws:SourceAccount": account}}},
            _deny_plaintext(bucket_arn),
        ],
    }, sort_keys=True)  # fmt: skip


def _key_policy(account: str, trail_arn: str) -> str:
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "AccountAdministers", "Effect": "Allow",
             "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "kms:*",
             "Resource": "*"},
            {"Sid": "PublishersEncrypt", "Effect": "Allow",
             "Principal": {"Service": list(PUBLISHERS)},
             "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*",
             "Condition": {"StringEquals": {"aws:SourceAccount": account}}},
            # The trail encrypts its log and digest files (AWS docs: "Configure AWS KMS key
            # policies for CloudTrail"), for this trail only.
            {"Sid": "TrailEncrypts", "Effect": "Allow", "Principal": {"Service": TRAIL},
             "Action": ["kms:GenerateDataKey*", "kms:DescribeKey"], "Resource": "*",
             "Condition": {"StringEquals": {"aws:SourceArn": trail_arn},
                           "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn":
                                          f"arn:aws:cloudtrail:*:{account}:trail/*"}}},
        ],
    }, sort_keys=True)  # fmt: skip


def _topic_policy(topic_arn: str, account: str) -> str:
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "AlarmsAndRulesPublish", "Effect": "Allow",
             "Principal": {"Service": list(PUBLISHERS)}, "Action": "sns:Publish",
             "Resource": topic_arn,
             "Condition": {"StringEquals": {"aws:SourceAccount": account}}},
            {"Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "sns:*",
             "Resource": topic_arn, "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        ],
    }, sort_keys=True)  # fmt: skip


def region_program(spec: RegionSpec) -> RegionPlatform:
    """The Pulumi program for one location's platform stack, with its outputs."""
    platform = RegionPlatform(spec.stack_name, spec)
    for key, value in platform.outputs.items():
        pulumi.export(key, value)
    return platform
