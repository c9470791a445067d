"""An ACM certificate validated by DNS: the certificate, one Route 53 validation record per name
it carries, and the validation that waits for ACM to issue it.

Used twice: a tenant built directly has its own (`<slug>.<domain>` and `mail.<slug>.<domain>`,
stacks.components.edge), and each location's platform stack has the warm pools' wildcard
(`*.<domain>` and `*.mail.<domain>`, stacks.region.platform). ECDSA P-256 keys: smaller
handshakes, and what the TLS policies' forward-secret suites use best.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_aws as aws

# Validation records, by the name's place on the certificate: the app's, then the mail name's.
RECORD_SUFFIXES = ("", "-mail")


def dns_validated_certificate(
    name: str,
    domain_name: str,
    mail_name: str,
    *,
    zone_id: pulumi.Input[str],
    region: str,
    tags: Mapping[str, str],
    opts: pulumi.ResourceOptions,
) -> aws.acm.CertificateValidation:
    """`name` (the certificate) for `domain_name` and `mail_name`, validated in `zone_id`;
    `name`-validation-record[-mail] and `name`-validation beside it."""
    certificate = aws.acm.Certificate(
        name,
        domain_name=domain_name,
        subject_alternative_names=[mail_name],
        validation_method="DNS",
        key_algorithm="EC_prime256v1",
        region=region,
        tags=dict(tags),
        opts=opts,
    )
    records = []
    for i, suffix in enumerate(RECORD_SUFFIXES):
        option = certificate.domain_validation_options[i]
        records.append(aws.route53.Record(
            f"{name}-validation-record{suffix}",
            zone_id=zone_id,
            name=option.resource_record_name,
            type=option.resource_record_type,
            records=[option.resource_record_value],
            ttl=300,
            allow_overwrite=True,
            opts=opts,
        ))  # fmt: skip
    return aws.acm.CertificateValidation(
        f"{name}-validation",
        certificate_arn=certificate.arn,
        validation_record_fqdns=[record.fqdn for record in records],
        region=region,
        opts=opts,
    )
