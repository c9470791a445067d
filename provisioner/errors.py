"""The errors provisioner raises, and what each one tells the user to do.

    ProvisionerError                 base; `exit_code` is what the CLI exits with
    ├── UsageError                   bad input (slug, location, plan, dates, files): exit 2
    │   ├── ConfigError              a configuration file (regions.yaml, ...) is invalid: exit 2
    │   ├── TenantsFileError         a fleet's tenants file has errors (every one, file:line)
    │   ├── TenantNotFound           no tenant registered under that slug
    │   ├── TenantExists             the slug is taken (slugs are never reused)
    │   ├── IllegalTransition        the lifecycle refuses the change from the current state
    │   ├── UnstorableValue          the database cannot store a value as given (API: 422)
    │   ├── IdempotencyKeyReused     an Idempotency-Key first used with another body (API: 409)
    │   ├── NotAuthenticated         API: no bearer token, or not a valid one (401)
    │   ├── ScopeMissing             API: the token lacks the scope the operation needs (403)
    │   ├── IncidentNotFound         no incident with that id
    │   ├── ReleaseNotFound          no release recorded under that id
    │   ├── RolloutNotFound          no rollout under that id
    │   └── ExternalIdReused         a billing event's external id was recorded for another event
    ├── EnvironmentProblem           the machine lacks a CLI, credentials or a server: exit 3
    │   ├── PulumiCliMissing         no `pulumi` on PATH: says how to install it
    │   ├── PulumiCliTooOld          `pulumi` older than the engine needs: says how to upgrade
    │   ├── CredentialsMissing       no usable AWS credentials reached the provider or the backend
    │   ├── SecretsUnavailable       the stack's passphrase / KMS key is missing or wrong
    │   └── RegistryUnavailable      the registry database does not answer (API: 503)
    ├── CheckFailed                  a check ran and found a problem (policy, audit): exit 1
    │   └── DangerousChange          a rollout's change is dangerous and was not approved
    ├── AwsRefused                   AWS refused a request (exists already, invalid, limit): exit 1
    ├── Undetermined                 a policy rule needs a value not known yet (preview): advisory
    └── EngineError                  a Pulumi operation failed; `.detail` keeps its output: exit 1
        ├── StackLocked              another update holds the stack's lock (after waiting)
        ├── PendingOperations        a crashed update left operations in an unknown state
        ├── StackNotFound            the tenant has no stack in this backend yet
        ├── CapacityUnavailable      AWS has no capacity in a zone (retried in the region's others)
        └── QuotaExceeded            an account quota in the region is exhausted

Every message is one line that says what is wrong and how to fix it. Lower-level errors are
mapped at the boundary (`raise UsageError(...) from exc`), so a traceback is only ever shown with
PROVISIONER_DEBUG=1.

Context travels as attributes, not only in the message: every error has `tenant` (a slug),
`resource` (a resource's name or urn) and `rule` (a policy or audit rule id), each None when it
does not apply, and some classes add their own (`EngineError.detail`, `ScopeMissing.scope`, ...).
Callers that show or route an error read these, never the message's words.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_ENVIRONMENT = 3


class ProvisionerError(Exception):
    """Base of every error provisioner raises on purpose."""

    exit_code: int = EXIT_FAILED

    def __init__(
        self,
        message: str = "",
        *,
        tenant: str | None = None,
        resource: str | None = None,
        rule: str | None = None,
    ) -> None:
        super().__init__(message)
        self.tenant = tenant  # the tenant's slug the error is about
        self.resource = resource  # the resource (name or urn) the error is about
        self.rule = rule  # the rule id (policy, audit) that refused


class UsageError(ProvisionerError):
    """The input is wrong: a slug, location, plan, date, file or body. Nothing was changed."""

    exit_code = EXIT_USAGE


class ConfigError(UsageError):
    """A configuration file is invalid; the message names the file, the entry and the field."""


class TenantsFileError(UsageError):
    """A tenants file with errors; `errors` holds every one as `file:line: message`."""

    def __init__(self, name: str, errors: list[str]) -> None:
        self.errors = errors
        count = f"{len(errors)} error{'s' if len(errors) != 1 else ''}"
        super().__init__(f"{name} has {count}:\n" + "\n".join(errors))


class EnvironmentProblem(ProvisionerError):
    """Something the machine must provide is missing or unreachable (CLI, credentials, server)."""

    exit_code = EXIT_ENVIRONMENT


class CheckFailed(ProvisionerError):
    """A check ran to completion and found at least one failure."""

    exit_code = EXIT_FAILED


# --- the engine (provisioner/engine): Pulumi CLI, credentials, and failed operations ------------

PULUMI_INSTALL_URL = "https://www.pulumi.com/docs/install/"


class PulumiCliMissing(EnvironmentProblem):
    """The Pulumi CLI is not on PATH; nothing was done. The message says how to install it."""


class PulumiCliTooOld(EnvironmentProblem):
    """The Pulumi CLI on PATH is older than the engine needs; the message says how to upgrade."""


class CredentialsMissing(EnvironmentProblem):
    """No usable AWS credentials reached the AWS provider or the S3 state backend."""


class SecretsUnavailable(EnvironmentProblem):
    """The stack's secrets provider cannot be used: passphrase missing or wrong, KMS refused."""


class EngineError(ProvisionerError):
    """A Pulumi operation ran and failed. `detail` holds the engine's output, intact."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, detail: str = "", *, tenant: str | None = None) -> None:
        super().__init__(message, tenant=tenant)
        self.detail = detail  # the CLI's stdout and stderr as it printed them


class StackLocked(EngineError):
    """Another update holds the stack's lock; raised only after waiting with bounded backoff."""


class PendingOperations(EngineError):
    """A crashed update left operations whose outcome is unknown (pulumi/pulumi#5377)."""

    def __init__(self, message: str, detail: str = "", urns: tuple[str, ...] = ()) -> None:
        super().__init__(message, detail)
        self.urns = urns  # resources with pending operations, as the engine listed them


class StackNotFound(EngineError):
    """The tenant has no stack in this backend: it was never created, or already destroyed."""


class CapacityUnavailable(EngineError):
    """AWS has no capacity for a resource in one zone; other zones of the same region may."""

    def __init__(
        self,
        message: str,
        detail: str = "",
        zone: str | None = None,
        suggested_zones: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message, detail)
        self.zone = zone  # the zone AWS refused, e.g. "eu-central-1a" (None if not named)
        self.suggested_zones = suggested_zones  # zones AWS said have capacity, same region


class QuotaExceeded(EngineError):
    """An account quota in the region is exhausted; another zone would not help."""


class TenantNotFound(UsageError):
    """No tenant with that slug is registered; `provisioner tenants list` shows those that are."""


class TenantExists(UsageError):
    """A tenant with that slug is already registered (slugs are never reused, even deleted ones)."""


class IllegalTransition(UsageError):
    """The lifecycle does not allow this change from the tenant's current state; nothing changed."""


class IncidentNotFound(UsageError):
    """No incident with that id; `provisioner incident list` shows those that exist."""


class IdempotencyKeyReused(UsageError):
    """The Idempotency-Key was first used with another request body (`key`)."""

    def __init__(self, message: str, *, key: str, tenant: str | None = None) -> None:
        super().__init__(message, tenant=tenant)
        self.key = key


# --- the signup API (provisioner/api): who may call it ----------------------------------------


class NotAuthenticated(UsageError):
    """No bearer token came with the request, or it is not one of the configured tokens."""


class ScopeMissing(UsageError):
    """The caller's token is valid but lacks `scope` (tenants:read, tenants:write, ...)."""

    def __init__(self, message: str, *, scope: str) -> None:
        super().__init__(message)
        self.scope = scope


# --- checks against AWS and plans (provisioner/audit, provisioner/policy) -----------------------


class AwsRefused(ProvisionerError):
    """AWS refused a request (exists already, invalid parameter, limit): exit 1, AWS's words.

    `operation` is the API call (CreateVolume), `code` AWS's error code."""

    def __init__(self, message: str, *, operation: str = "", code: str = "") -> None:
        super().__init__(message)
        self.operation = operation
        self.code = code


class Undetermined(ProvisionerError):
    """A policy rule needed a value that is not known yet (CrossGuard during preview): the
    finding is advisory, not a failure. `resource` and `field` name the value when known."""

    def __init__(
        self, message: str, *, resource: str | None = None, field: str | None = None
    ) -> None:
        super().__init__(message, resource=resource)
        self.field = field


# --- the registry (provisioner/registry): its database, seen from outside ------------------------


class UnstorableValue(UsageError):
    """The database refused a value as given (a NUL in a string, a number out of its range)."""


class RegistryUnavailable(EnvironmentProblem):
    """The registry's database cannot be reached or refused the connection; nothing changed.

    `reason` is the driver's first line (it may name the server); `url` the database, password
    hidden. Neither belongs in an answer to an unauthenticated caller."""

    def __init__(self, reason: str, url: str = "") -> None:
        super().__init__(
            f"the registry database is unavailable: {reason}; check PROVISIONER_DATABASE_URL"
            " or that the server is running"
        )
        self.reason = reason
        self.url = url


class ReleaseNotFound(UsageError):
    """No release recorded under that id (`provisioner release list`)."""


class RolloutNotFound(UsageError):
    """No rollout under that id (`provisioner rollout status`)."""


class DangerousChange(CheckFailed):
    """`fleet plan` finds the release's change dangerous; `--approve-dangerous` with a reason
    lets the rollout start (and records who and why)."""


class ExternalIdReused(UsageError):
    """A billing event's external id was already recorded for a different event; nothing changed.

    The same id with the same content is a replay and gets the stored record back instead."""
