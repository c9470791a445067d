"""Map what the Pulumi CLI printed to our error types: a pure function of its stdout and stderr.

Pulumi's own Automation API does the same (sdk/python/lib/pulumi/automation/errors.py,
`create_command_error`), matching texts the Go CLI prints. Its matchers broke once when the
wording changed (pulumi/pulumi#11108: the local backend says "the stack is currently locked by",
not "[409] Conflict"), so each pattern here names where its text comes from, and the tests feed
the real texts. Anything unrecognised becomes EngineError with the engine's error lines intact.
"""

from __future__ import annotations

import re

from provisioner.errors import (
    PULUMI_INSTALL_URL,
    CapacityUnavailable,
    CredentialsMissing,
    EngineError,
    EnvironmentProblem,
    PendingOperations,
    ProvisionerError,
    PulumiCliMissing,
    PulumiCliTooOld,
    QuotaExceeded,
    SecretsUnavailable,
    StackLocked,
    StackNotFound,
)

# pulumi/pulumi sdk/python/lib/pulumi/automation/_cmd.py runs `pulumi` with subprocess.Popen;
# without the binary Python raises FileNotFoundError
# "[Errno 2] No such file or directory: 'pulumi'".
_CLI_MISSING = re.compile(r"No such file or directory: '[^']*pulumi'|pulumi: command not found")

# pulumi/pulumi sdk/python/lib/pulumi/automation/_cmd.py `_parse_and_validate_pulumi_version`:
# "Minimum version requirement failed. The minimum CLI version requirement is ..." and
# "Major version mismatch. You are using Pulumi CLI version ...".
_CLI_TOO_OLD = re.compile(r"Minimum version requirement failed|Major version mismatch")

# pulumi/pulumi pkg/backend/diy/lock.go `checkForLock`: "the stack is currently locked by %v
# lock(s). Either wait for the other process(es) to end or delete the lock file with `pulumi
# cancel`." followed by one "  <url>: created by <user>@<host> (pid <n>) at <time>" per lock.
# Pulumi Cloud: "[409] Conflict: Another update is currently in progress." (automation/errors.py
# `conflict_text`; docs: support/troubleshooting/common-issues/update-conflicts.md).
_LOCKED = re.compile(
    r"the stack is currently locked by|\[409\] Conflict: Another update is currently in progress"
)
_LOCK_HOLDER = re.compile(r"created by (?P<who>\S+) \(pid (?P<pid>\d+)\) at (?P<at>\S+)")

# Before CLI 3.29 the engine refused: "the current deployment has %d resource(s) with pending
# operations: ... refusing to proceed" (pkg/cmd/pulumi, printPendingOperationsError; quoted in
# pulumi/pulumi#5377). Since 3.29 `up` only warns ("Attempting to deploy or update resources with
# %d pending operations from previous deployment.", pkg/resource/deploy/deployment_executor.go),
# which is not a failure; the engine checks the state for pending operations itself.
_PENDING = re.compile(r"the current deployment has \d+ resource\(s\) with pending operations")
_PENDING_URN = re.compile(r"\* (urn:pulumi:\S+), interrupted while (\w+)")

# pulumi/pulumi pkg/cmd/pulumi (stack selection): fmt.Errorf("no stack named '%s' found");
# automation/errors.py matches it with "no stack named.*found".
_NOT_FOUND = re.compile(r"no stack named '?(?P<stack>[^' ]*)'? found")

# pulumi/pulumi pkg/secrets/passphrase/manager.go: "passphrase must be set with
# PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE environment variables" and
# "incorrect passphrase, please set PULUMI_CONFIG_PASSPHRASE to the correct passphrase ...".
_SECRETS = re.compile(r"passphrase must be set with PULUMI_CONFIG_PASSPHRASE|incorrect passphrase")

# pulumi/pulumi-aws: "No valid credential sources found." (PR #3310, issue #4076, provider 6+);
# "unable to validate AWS credentials. Details: no valid credential sources for Pulumi AWS
# Classic found." (PR #2367); "Invalid credentials configured." (PR #3310); the S3 state backend
# (gocloud, aws-sdk-go) and older providers: "NoCredentialProviders: no valid providers in chain"
# (pulumi/pulumi-aws#1316). Expired or unknown keys: "ExpiredToken", "InvalidClientTokenId".
_CREDENTIALS = re.compile(
    r"No valid credential sources found|no valid credential sources for|"
    r"unable to validate AWS credentials|Invalid credentials configured|"
    r"NoCredentialProviders|ExpiredToken|InvalidClientTokenId",
    re.IGNORECASE,
)

# AWS EC2 RunInstances "InsufficientInstanceCapacity: We currently do not have sufficient
# t3.small capacity in the Availability Zone you requested (us-east-1e). Our system will be
# working on provisioning additional capacity. You can currently get t3.small capacity by not
# specifying an Availability Zone in your request or choosing us-east-1a, us-east-1b." (quoted in
# hashicorp/terraform-provider-aws#1496, openshift/installer#7088); RDS
# "InsufficientDBInstanceCapacity" (Fraudmarc/fraudmarc-ce#50); EC2 "Unsupported: Your requested
# instance type (...) is not supported in your requested Availability Zone (...)".
_CAPACITY = re.compile(
    r"InsufficientInstanceCapacity|InsufficientDBInstanceCapacity|InsufficientCapacity|"
    r"is not supported in your requested Availability Zone"
)
_REQUESTED_ZONE = re.compile(r"Availability Zone(?: you requested)? \((?P<zone>[a-z0-9-]+)\)")
_SUGGESTED_ZONES = re.compile(
    r"(?:by not specifying an Availability Zone in your request or )?"
    r"choosing (?P<zones>[a-z0-9-]+(?:, (?:or )?[a-z0-9-]+)*)"
)

# Account quotas: EC2 "VcpuLimitExceeded: You have requested more vCPU capacity than your current
# vCPU limit of 32 allows ..." (bentoml/bentoctl#202), "InstanceLimitExceeded",
# "VpcLimitExceeded", "AddressLimitExceeded", ...; RDS "InstanceQuotaExceeded",
# "StorageQuotaExceeded"; Service Quotas "ServiceQuotaExceededException". A quota is per region:
# another zone does not help.
_QUOTA = re.compile(
    r"\b(?:Vcpu|Instance|Vpc|Address|SecurityGroup|NatGateway|InternetGateway|Subnet|"
    r"NetworkInterface|Volume)LimitExceeded\b|\b(?:Instance|Storage|DBSubnetGroup)QuotaExceeded\b|"
    r"ServiceQuotaExceeded|\bLimitExceededException\b.*\b(?:quota|limit of)\b"
)

# pulumi/pulumi (plugin acquisition disabled, as we run it): "no resource plugin
# 'pulumi-resource-aws' found in the workspace at version v5.4.0 or on your $PATH, install the
# plugin using `pulumi plugin install resource aws v5.4.0`".
_PLUGIN_MISSING = re.compile(r"no resource plugin '(?P<plugin>[^']+)' found")

# An error diagnostic anywhere on a line: the progress display prefixes it with the resource
# ("pulumi:pulumi:Stack tenant-demo running error: ..."), the diagnostics section indents it.
_ERROR_LINE = re.compile(r"(?:^|\s)(?:error|Error):\s+(?P<text>.+?)\s*$")


def error_lines(stdout: str, stderr: str) -> list[str]:
    """The engine's `error:` lines, verbatim and de-duplicated, stderr first."""
    seen: list[str] = []
    for text in (stderr, stdout):
        for line in text.splitlines():
            match = _ERROR_LINE.search(line)
            if match and match.group("text") not in seen:
                seen.append(match.group("text"))
    if not seen:
        tail = [line.strip() for line in f"{stdout}\n{stderr}".splitlines() if line.strip()]
        if tail:
            seen.append(tail[-1])
    return seen


def lock_holders(text: str) -> list[str]:
    """`user@host (pid N) at TIME` for each lock the DIY backend listed."""
    return [
        f"{m.group('who')} (pid {m.group('pid')}) at {m.group('at')}"
        for m in _LOCK_HOLDER.finditer(text)
    ]


def pending_urns(text: str) -> tuple[str, ...]:
    return tuple(m.group(1) for m in _PENDING_URN.finditer(text))


def capacity_zones(text: str) -> tuple[str | None, tuple[str, ...]]:
    """The zone AWS refused and the zones it suggested instead (as printed, same region)."""
    requested = _REQUESTED_ZONE.search(text)
    suggested = _SUGGESTED_ZONES.search(text)
    zones: tuple[str, ...] = ()
    if suggested:
        zones = tuple(
            z.strip().removeprefix("or ").strip() for z in suggested.group("zones").split(",")
        )
    return (requested.group("zone") if requested else None, zones)


def split_command_error(text: str) -> tuple[str, str]:
    """(stdout, stderr) from str(CommandError): "\\n code: N\\n stdout: ...\\n stderr: ..."."""
    out_at = text.find("\n stdout: ")
    err_at = text.find("\n stderr: ")
    if out_at < 0 or err_at < 0 or err_at < out_at:
        return ("", text)
    return (text[out_at + len("\n stdout: ") : err_at], text[err_at + len("\n stderr: ") :])


def classify(
    stdout: str, stderr: str, verb: str = "operation", stack: str = ""
) -> ProvisionerError:
    """The error a failed Pulumi CLI call amounts to. Pure: same texts, same answer."""
    both = f"{stderr}\n{stdout}"
    detail = both.strip()
    lines = error_lines(stdout, stderr)
    engine_says = " / ".join(lines) if lines else "no error message (see the output above)"
    what = f"pulumi {verb}" + (f" on stack {stack}" if stack else "")

    if _CLI_MISSING.search(both):
        return PulumiCliMissing(
            f"the Pulumi CLI is not installed: install it from {PULUMI_INSTALL_URL} and make sure"
            " 'pulumi' is on PATH"
        )
    if _CLI_TOO_OLD.search(both):
        return PulumiCliTooOld(f"{engine_says}: upgrade the Pulumi CLI from {PULUMI_INSTALL_URL}")
    if _LOCKED.search(both):
        holders = lock_holders(both)
        by = f" (held by {', '.join(holders)})" if holders else ""
        return StackLocked(f"{what}: another update holds the stack's lock{by}", detail)
    if _PENDING.search(both):
        urns = pending_urns(both)
        return PendingOperations(
            f"{what}: an interrupted update left {len(urns) or 'some'} operation(s) in an unknown"
            f" state: run 'provisioner tenants refresh' to clear them safely",
            detail,
            urns,
        )
    found = _NOT_FOUND.search(both)
    if found:
        name = found.group("stack") or stack
        return StackNotFound(
            f"stack {name} does not exist in this backend: create it with 'provisioner tenants"
            " up', or check --backend",
            detail,
        )
    if _SECRETS.search(both):
        return SecretsUnavailable(
            f"{what}: {engine_says}: use the passphrase (or KMS key) the stack was created with"
        )
    if _CREDENTIALS.search(both):
        return CredentialsMissing(
            f"{what}: no usable AWS credentials ({engine_says}): configure them (AWS_PROFILE,"
            " 'aws configure sso', or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) and retry;"
            " 'provisioner doctor' shows what is found"
        )
    if _QUOTA.search(both):
        return QuotaExceeded(
            f"{what}: an AWS account quota is exhausted ({engine_says}): request an increase in"
            " Service Quotas for this region; another zone would not help",
            detail,
        )
    if _CAPACITY.search(both):
        zone, suggested = capacity_zones(both)
        return CapacityUnavailable(
            f"{what}: AWS has no capacity in {zone or 'the requested zone'} ({engine_says})",
            detail,
            zone=zone,
            suggested_zones=suggested,
        )
    plugin = _PLUGIN_MISSING.search(both)
    if plugin:
        return EnvironmentProblem(
            f"the Pulumi plugin {plugin.group('plugin')} is not installed in the shared"
            " PULUMI_HOME: run 'provisioner doctor --install-plugins'"
        )
    return EngineError(f"{what} failed: {engine_says}", detail)
