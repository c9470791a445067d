"""The classifier on real texts: each one is quoted from Pulumi's source, its docs or an issue.

Where a text carries a resource URN or a host name, it is the one the source printed (or a
tenant's, when the source is a format string); the wording is never paraphrased.
"""

from __future__ import annotations

import pytest
from pulumi.automation import CommandResult
from pulumi.automation._cmd import _parse_and_validate_pulumi_version
from pulumi.automation.errors import (
    ConcurrentUpdateError,
    InvalidVersionError,
    StackNotFoundError,
    create_command_error,
)
from semver import VersionInfo

from provisioner.engine.classify import (
    capacity_zones,
    classify,
    error_lines,
    lock_holders,
    split_command_error,
)
from provisioner.errors import (
    EXIT_ENVIRONMENT,
    EXIT_FAILED,
    PULUMI_INSTALL_URL,
    CapacityUnavailable,
    CredentialsMissing,
    EngineError,
    EnvironmentProblem,
    PendingOperations,
    PulumiCliMissing,
    PulumiCliTooOld,
    QuotaExceeded,
    SecretsUnavailable,
    StackLocked,
    StackNotFound,
)

# pulumi/pulumi pkg/backend/diy/lock.go, checkForLock: the header plus one line per lock
# ("\n  %v: created by %v@%v (pid %v) at %v"), for a file backend.
DIY_LOCK = (
    "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to"
    " end or delete the lock file with `pulumi cancel`.\n"
    "  file:///srv/provisioner/state/.pulumi/locks/organization/tenant/tenant-demo/"
    "0f3e1b2c-5d6a-4b7c-8d9e-0a1b2c3d4e5f.json: created by worker@host-a (pid 4242) at"
    " 2026-11-28T03:00:00Z"
)
# The older wording, as quoted in pulumi/pulumi#9148 (S3 backend, 2022).
DIY_LOCK_OLD = (
    "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to"
    " end or manually delete the lock file(s)."
)
# Pulumi Cloud: pulumi/pulumi#2073; automation/errors.py `conflict_text`.
CLOUD_CONFLICT = "error: [409] Conflict: Another update is currently in progress."

# pulumi/pulumi#5945 (CLI before 3.29): the refusal after a crash, two resources.
PENDING_REFUSAL = """error: the current deployment has 2 resource(s) with pending operations:
  * urn:pulumi:prod::tlayen-infrastructure::tlayen:platform:datadog:Datadog$aws:cloudwatch/logGroup:LogGroup::DatadogFirehoseErrors, interrupted while creating
  * urn:pulumi:prod::tlayen-infrastructure::tlayen:platform:datadog:Datadog$aws:iam/role:Role::DatadogCloudWatch, interrupted while updating

These resources are in an unknown state because the Pulumi CLI was interrupted while
waiting for changes to these resources to complete. You should confirm whether or not the
operations listed completed successfully by checking the state of the appropriate provider.
For example, if you are using AWS, you can confirm using the AWS Console.

Once you have confirmed the status of the interrupted operations, you can repair your stack
using 'pulumi stack export' to export your stack to a file. For each operation that succeeded,
remove that operation from the "pending_operations" section of the file. Once this is complete,
use 'pulumi stack import' to import the repaired stack.

refusing to proceed"""  # noqa: E501

# CLI >= 3.29 only warns (pulumi/docs interrupted-updates.md); the update's real failure follows.
PENDING_WARNING_STDOUT = """Diagnostics:
  pulumi:pulumi:Stack (tenant-tenant-demo):
    warning: Attempting to deploy or update resources with 1 pending operations from previous deployment.
      * urn:pulumi:dev::proj::aws:s3/bucket:Bucket::bucket, interrupted while creating
    These resources are in an unknown state because the Pulumi CLI was interrupted while waiting for changes to these resources
    to complete.
    error: update failed"""  # noqa: E501

# pulumi/actions#777 (stack select on a missing stack).
NOT_FOUND = "error: no stack named 'kettleos/dev' found"

# pulumi/pulumi-aws#4076, provider 6.x without credentials.
NO_CREDENTIALS = """Diagnostics:
  pulumi:providers:aws (default_6_40_0):
    error: pulumi:providers:aws resource 'default_6_40_0' has a problem: No valid credential sources found.
    Please see https://www.pulumi.com/registry/packages/aws/installation-configuration/ for more information about providing credentials."""  # noqa: E501
# pulumi/pulumi-aws PR #2367 ("After").
NO_CREDENTIALS_CLASSIC = (
    "    error: unable to validate AWS credentials.\n"
    "    Details: no valid credential sources for Pulumi AWS Classic found."
)
# pulumi/pulumi-aws#1316 (older provider; the same SDK error an S3 state backend prints).
NO_CREDENTIAL_PROVIDERS = (
    "    Error: NoCredentialProviders: no valid providers in chain. Deprecated.\n"
    "    \tFor verbose messaging see aws.Config.CredentialsChainVerboseErrors"
)

# pulumi/pulumi-kubernetes-operator#935 (stderr of `pulumi up` without a passphrase).
NO_PASSPHRASE = (
    "error: getting stack configuration: get stack secrets manager: passphrase must be set with"
    " PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE environment variables"
)
# pulumi/pulumi pkg/secrets/passphrase/manager.go errorCrypter.DecryptValue.
WRONG_PASSPHRASE = (
    "error: failed to decrypt: incorrect passphrase, please set PULUMI_CONFIG_PASSPHRASE to the"
    " correct passphrase or set PULUMI_CONFIG_PASSPHRASE_FILE to a file containing the passphrase"
)

# red-hat-storage/ocs-ci#9263 (terraform-provider-aws, the bridge pulumi-aws wraps).
EC2_CAPACITY = (
    "    error: creating EC2 Instance: InsufficientInstanceCapacity: We currently do not have"
    " sufficient m6i.xlarge capacity in the Availability Zone you requested (us-east-2a). Our"
    " system will be working on provisioning additional capacity. You can currently get"
    " m6i.xlarge capacity by not specifying an Availability Zone in your request or choosing"
    " us-east-2b, us-east-2c.\n    \tstatus code: 500, request id: 889de2c1-f2f8-460c-a127"
)
# Fraudmarc/fraudmarc-ce#50 (RDS names no zone).
RDS_CAPACITY = (
    "error: creating RDS DB Instance: InsufficientDBInstanceCapacity: Cannot create a db.t2.micro"
    " database instance because there are no availability zones with sufficient capacity for"
    " non-VPC and storage type : gp2 for db.t2.micro. Please try the request again at a later time."
)
# bentoml/bentoctl#202.
VCPU_QUOTA = (
    "error: creating EC2 Instance: VcpuLimitExceeded: You have requested more vCPU capacity than"
    " your current vCPU limit of 32 allows for the instance bucket that the specified instance"
    " type belongs to. Please visit http://aws.amazon.com/contact-us/ec2-request to request an"
    " adjustment to this limit."
)
# A README quoting the CLI with plugin acquisition off (the message names the install command).
PLUGIN_MISSING = (
    "error: no resource plugin 'pulumi-resource-aws' found in the workspace at version v5.4.0 or"
    " on your $PATH, install the plugin using `pulumi plugin install resource aws v5.4.0`"
)
# pulumi/pulumi#17588 (an error nobody classifies: it must come through intact).
INLINE_RUNTIME = (
    "Updating (test-490dca):\n"
    "    pulumi:pulumi:Stack fubuloubu-test-490dca running error: an unhandled error occurred:"
    " python inline source runtime error: 'Loop' object has no attribute '_ready'\n"
    "    pulumi:pulumi:Stack fubuloubu-test-490dca **failed** 2 errors"
)


@pytest.mark.parametrize("stderr", [DIY_LOCK, DIY_LOCK_OLD, CLOUD_CONFLICT])
def test_locked_stack(stderr: str) -> None:
    err = classify("", stderr, "up", "tenant-demo")
    assert isinstance(err, StackLocked)
    assert err.exit_code == EXIT_FAILED
    assert err.detail == stderr


def test_locked_stack_names_the_holder() -> None:
    err = classify("", DIY_LOCK, "up", "tenant-demo")
    assert "worker@host-a (pid 4242) at 2026-11-28T03:00:00Z" in str(err)
    assert lock_holders(DIY_LOCK) == ["worker@host-a (pid 4242) at 2026-11-28T03:00:00Z"]


@pytest.mark.parametrize("stderr", [DIY_LOCK, CLOUD_CONFLICT])
def test_pulumis_own_classifier_agrees_on_locks(stderr: str) -> None:
    """Guard against the drift of pulumi/pulumi#11108: the SDK must see the same texts."""
    sdk_error = create_command_error(CommandResult(stdout="", stderr=stderr, code=255))
    assert isinstance(sdk_error, ConcurrentUpdateError)


def test_pending_operations_refusal_lists_the_urns() -> None:
    err = classify("", PENDING_REFUSAL, "up", "tenant-demo")
    assert isinstance(err, PendingOperations)
    assert err.urns == (
        "urn:pulumi:prod::tlayen-infrastructure::tlayen:platform:datadog:Datadog"
        "$aws:cloudwatch/logGroup:LogGroup::DatadogFirehoseErrors",
        "urn:pulumi:prod::tlayen-infrastructure::tlayen:platform:datadog:Datadog"
        "$aws:iam/role:Role::DatadogCloudWatch",
    )
    assert "2 operation(s)" in str(err)
    assert "provisioner tenants refresh" in str(err)


def test_pending_operations_warning_alone_is_not_the_failure() -> None:
    err = classify(PENDING_WARNING_STDOUT, "", "up", "tenant-demo")
    assert type(err) is EngineError
    assert "update failed" in str(err)


def test_stack_not_found() -> None:
    err = classify("", NOT_FOUND, "stack select", "tenant-demo")
    assert isinstance(err, StackNotFound)
    assert "kettleos/dev" in str(err)
    sdk_error = create_command_error(CommandResult(stdout="", stderr=NOT_FOUND, code=255))
    assert isinstance(sdk_error, StackNotFoundError)


@pytest.mark.parametrize(
    ("stdout", "stderr"),
    [
        (NO_CREDENTIALS, "error: preview failed"),
        (NO_CREDENTIALS_CLASSIC, ""),
        ("", NO_CREDENTIAL_PROVIDERS),
    ],
)
def test_missing_credentials(stdout: str, stderr: str) -> None:
    err = classify(stdout, stderr, "preview", "tenant-demo")
    assert isinstance(err, CredentialsMissing)
    assert err.exit_code == EXIT_ENVIRONMENT
    assert "provisioner doctor" in str(err)


@pytest.mark.parametrize("stderr", [NO_PASSPHRASE, WRONG_PASSPHRASE])
def test_secrets_unavailable(stderr: str) -> None:
    err = classify("", stderr, "up", "tenant-demo")
    assert isinstance(err, SecretsUnavailable)
    assert err.exit_code == EXIT_ENVIRONMENT
    assert "PULUMI_CONFIG_PASSPHRASE" in str(err)  # the engine's words are kept


def test_ec2_capacity_names_the_zone_and_awss_suggestions() -> None:
    err = classify(EC2_CAPACITY, "error: update failed", "up", "tenant-demo")
    assert isinstance(err, CapacityUnavailable)
    assert err.zone == "us-east-2a"
    assert err.suggested_zones == ("us-east-2b", "us-east-2c")


def test_rds_capacity_without_a_zone() -> None:
    err = classify(RDS_CAPACITY, "", "up", "tenant-demo")
    assert isinstance(err, CapacityUnavailable)
    assert err.zone is None


def test_a_quota_is_not_a_capacity_problem() -> None:
    err = classify(VCPU_QUOTA, "", "up", "tenant-demo")
    assert isinstance(err, QuotaExceeded)
    assert not isinstance(err, CapacityUnavailable)
    assert "Service Quotas" in str(err)
    assert "limit of 32" in str(err)


def test_cli_missing_from_the_sdks_popen() -> None:
    try:
        import subprocess

        subprocess.Popen(["/nonexistent/bin/pulumi", "version"])
    except FileNotFoundError as exc:
        text = str(exc)
    err = classify("", text)
    assert isinstance(err, PulumiCliMissing)
    assert err.exit_code == EXIT_ENVIRONMENT
    assert PULUMI_INSTALL_URL in str(err)


def test_cli_too_old_from_the_sdks_own_check() -> None:
    with pytest.raises(InvalidVersionError) as info:
        _parse_and_validate_pulumi_version(VersionInfo.parse("3.134.0"), "3.100.0", False)
    err = classify("", str(info.value))
    assert isinstance(err, PulumiCliTooOld)
    assert "3.100.0" in str(err)


def test_missing_plugin_points_at_doctor() -> None:
    err = classify("", PLUGIN_MISSING, "up", "tenant-demo")
    assert type(err) is EnvironmentProblem
    assert "provisioner doctor --install-plugins" in str(err)


def test_anything_else_keeps_the_engines_message_intact() -> None:
    err = classify(INLINE_RUNTIME, "", "up", "tenant-demo")
    assert type(err) is EngineError
    assert err.exit_code == EXIT_FAILED
    assert (
        "an unhandled error occurred: python inline source runtime error: 'Loop' object has no"
        " attribute '_ready'" in str(err)
    )
    assert err.detail.strip() == INLINE_RUNTIME.strip()


def test_error_lines_are_verbatim_and_deduplicated() -> None:
    stdout = "    error: boom\n    error: boom\n  error: other"
    assert error_lines(stdout, "error: first") == ["first", "boom", "other"]
    assert error_lines("", "no prefix here\nlast line") == ["last line"]


def test_capacity_zones_parser() -> None:
    assert capacity_zones(EC2_CAPACITY) == ("us-east-2a", ("us-east-2b", "us-east-2c"))
    assert capacity_zones("nothing") == (None, ())


def test_split_command_error_round_trips_the_sdks_format() -> None:
    result = CommandResult(stdout="Updating (dev):\nline two", stderr=DIY_LOCK, code=255)
    error = create_command_error(result)
    assert split_command_error(str(error)) == ("Updating (dev):\nline two", DIY_LOCK)
    assert split_command_error("plain text") == ("", "plain text")


def test_classification_is_pure() -> None:
    first = classify(EC2_CAPACITY, DIY_LOCK, "up", "s")
    second = classify(EC2_CAPACITY, DIY_LOCK, "up", "s")
    assert type(first) is type(second) and str(first) == str(second)
