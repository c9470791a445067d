"""Pure pieces of the audit (no server): schedules, ARN parsing, error mapping."""

from __future__ import annotations

import botocore.exceptions
import pytest

from provisioner.audit.checks_backup import is_daily, region_jurisdictions
from provisioner.audit.clients import aws_errors
from provisioner.audit.discovery import Tagged
from provisioner.errors import AwsRefused, EnvironmentProblem


@pytest.mark.parametrize(
    ("expression", "daily"),
    [
        ("cron(0 3 ? * * *)", True),
        ("cron(30 1 * * ? *)", True),
        ("cron(0 3 ? * SUN *)", False),  # weekly
        ("cron(0 3 1 * ? *)", False),  # monthly
        ("cron(0 3 ? 1 * *)", False),  # every day of January only
        ("rate(1 day)", False),  # AWS Backup takes cron only
        (None, False),
        ("cron(0 3 ? * *)", False),  # five fields: malformed
    ],
)
def test_daily_schedules(expression: str | None, daily: bool) -> None:
    assert is_daily(expression) is daily


@pytest.mark.parametrize(
    ("arn", "kind", "resource_id"),
    [
        ("arn:aws:ec2:eu-central-1:1:volume/vol-1", "ec2:volume", "vol-1"),
        ("arn:aws:rds:eu-central-1:1:db:t-acme-db", "rds:db", "t-acme-db"),
        ("arn:aws:rds:eu-central-1:1:snapshot:rds:t-acme-db-2026", "rds:snapshot", "rds"),
        ("arn:aws:logs:eu-central-1:1:log-group:/tenant/acme/app:*", "logs:log-group",
         "/tenant/acme/app"),
        ("arn:aws:elasticloadbalancing:eu-central-1:1:loadbalancer/app/t-acme/abc",
         "elasticloadbalancing:loadbalancer", "abc"),
        ("arn:aws:backup:eu-central-1:1:backup-vault:tenant-acme", "backup:backup-vault",
         "tenant-acme"),
        ("arn:aws:s3:::t-acme-logs", "s3:bucket", "t-acme-logs"),
        ("arn:aws:kms:eu-central-1:1:key/mrk-1", "kms:key", "mrk-1"),
    ],
)  # fmt: skip
def test_arn_kinds(arn: str, kind: str, resource_id: str) -> None:
    tagged = Tagged(arn=arn, region="eu-central-1")
    assert tagged.kind == kind
    if kind != "rds:snapshot":  # snapshot ids with ':' are read from describe calls instead
        assert tagged.resource_id == resource_id


def test_jurisdictions_come_from_regions_yaml() -> None:
    known = region_jurisdictions()
    assert known["eu-central-1"] == known["eu-west-1"] == "EU"
    assert known["us-west-2"] == "US"


def _client_error(code: str, status: int = 400) -> botocore.exceptions.ClientError:
    return botocore.exceptions.ClientError(
        {"Error": {"Code": code, "Message": "nope"},
         "ResponseMetadata": {"HTTPStatusCode": status}}, "DescribeVolumes"
    )


@pytest.mark.parametrize(
    ("raised", "expected", "text"),
    [
        (botocore.exceptions.NoCredentialsError(), EnvironmentProblem, "AWS_PROFILE"),
        (botocore.exceptions.EndpointConnectionError(endpoint_url="https://x"),
         EnvironmentProblem, "cannot reach AWS"),
        (_client_error("ExpiredToken"), EnvironmentProblem, "refresh them"),
        (_client_error("AccessDenied"), EnvironmentProblem, "grant the audit role"),
        (_client_error("InvalidParameterValue"), AwsRefused,
         "AWS refused DescribeVolumes: InvalidParameterValue: nope"),
        # Not the tenant's fault, so not exit 1: a failing service, an endpoint lacking the API.
        (_client_error("InternalFailure", 500), EnvironmentProblem,
         "failed DescribeVolumes with HTTP 500 \\(InternalFailure\\) after retries"),
        (_client_error("404", 404), EnvironmentProblem,
         "answered DescribeVolumes with HTTP 404 and no AWS error, so it does not implement it"),
        # HEAD answers never carry an AWS error body: a bare status there is AWS's own answer.
        (botocore.exceptions.ClientError({"Error": {"Code": "404", "Message": "Not Found"},
                                          "ResponseMetadata": {"HTTPStatusCode": 404}},
                                         "HeadBucket"), AwsRefused, "AWS refused HeadBucket: 404"),
    ],
)  # fmt: skip
def test_botocore_errors_become_one_line_errors(
    raised: Exception, expected: type, text: str
) -> None:
    with pytest.raises(expected, match=text), aws_errors():
        raise raised


def test_retry_config_follows_the_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from provisioner.audit.clients import retry_config

    monkeypatch.delenv("AWS_MAX_ATTEMPTS", raising=False)
    monkeypatch.delenv("AWS_RETRY_MODE", raising=False)
    assert retry_config().retries == {"mode": "standard", "total_max_attempts": 5}
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("AWS_RETRY_MODE", "adaptive")
    assert retry_config().retries == {"mode": "adaptive", "total_max_attempts": 2}


def test_clients_are_cached_per_thread_and_region(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from provisioner.audit.clients import Clients

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    made: list[tuple[str, str]] = []
    clients = Clients(on_new_client=lambda service, region, _: made.append((service, region)))
    first = clients.client("kms", "eu-central-1")
    assert clients.client("kms", "eu-central-1") is first
    assert clients.client("kms", "eu-west-1").meta.region_name == "eu-west-1"
    other: list[object] = []
    worker = threading.Thread(target=lambda: other.append(clients.client("kms", "eu-central-1")))
    worker.start()
    worker.join()
    assert other[0] is not first  # another thread, another session and client
    assert made == [("kms", "eu-central-1"), ("kms", "eu-west-1"), ("kms", "eu-central-1")]
