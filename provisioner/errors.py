"""The errors provisioner raises, and what each one tells the user to do.

    ProvisionerError                 base; `exit_code` is what the CLI exits with
    ├── UsageError                   bad input at the edge (slug, location, plan, dates, files): exit 2
    │   ├── ConfigError              a configuration file (regions.yaml, ...) is invalid: exit 2
    │   ├── TenantNotFound           no tenant registered under that slug
    │   ├── TenantExists             the slug is taken (slugs are never reused)
    │   └── IllegalTransition        the lifecycle refuses the change from the current state
    ├── EnvironmentProblem           the machine lacks something (a CLI, credentials, a server): exit 3
    └── CheckFailed                  a check ran and found a problem (policy, audit): exit 1

Every message is one line that says what is wrong and how to fix it. Lower-level errors are
mapped at the boundary (`raise UsageError(...) from exc`), so a traceback is only ever shown with
PROVISIONER_DEBUG=1.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_ENVIRONMENT = 3


class ProvisionerError(Exception):
    """Base of every error provisioner raises on purpose."""

    exit_code: int = EXIT_FAILED


class UsageError(ProvisionerError):
    """The input is wrong: a slug, location, plan, date, file or body. Nothing was changed."""

    exit_code = EXIT_USAGE


class ConfigError(UsageError):
    """A configuration file is invalid; the message names the file, the entry and the field."""


class EnvironmentProblem(ProvisionerError):
    """Something the machine must provide is missing or unreachable (CLI, credentials, server)."""

    exit_code = EXIT_ENVIRONMENT


class CheckFailed(ProvisionerError):
    """A check ran to completion and found at least one failure."""

    exit_code = EXIT_FAILED


class TenantNotFound(UsageError):
    """No tenant with that slug is registered; `provisioner tenants list` shows those that are."""


class TenantExists(UsageError):
    """A tenant with that slug is already registered (slugs are never reused, even deleted ones)."""


class IllegalTransition(UsageError):
    """The lifecycle does not allow this change from the tenant's current state; nothing changed."""
