"""A location's platform stack: what all its tenants share and none of them may own.

- **The alert topic** (SNS `provisioner-alerts`, encrypted under a customer-managed key of the
  platform's own): every tenant alarm of the region notifies it; its subscriptions come from
  configuration (the RegionSpec).
- **EventBridge rules** that turn AWS Backup backup-job, copy-job and restore-job failures, and
  `DisableKey`/`ScheduleKeyDeletion` calls on KMS keys (the tenants' keys live in this account
  and region), into alerts on that topic. The KMS rule reads CloudTrail management events,
  which EventBridge receives only while a CloudTrail trail logs them in the account.
  https://docs.aws.amazon.com/aws-backup/latest/devguide/eventbridge.html
  https://docs.aws.amazon.com/kms/latest/developerguide/deleting-keys-creating-cloudwatch-alarm.html
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
        self.key = aws.kms.Key(
            f"{name}-alerts-key",
            description=f"Alert topic of location {spec.location.code}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=account.apply(_key_policy),
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
        certificate = self._wildcard_certificate(name, spec, child)
        self.outputs: dict[str, pulumi.Input[str]] = {
            "alert_topic_arn": self.topic.arn,
            "region": region,
            "wildcard_certificate_arn": certificate.certificate_arn,
        }
        self.register_outputs(self.outputs)


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


def _key_policy(account: str) -> str:
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
