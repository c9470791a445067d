"""The `provisioner` command: the root app, its sub-apps, and the one place errors become exits.

Every ProvisionerError and every click usage error ends as one line on stderr and its exit code
(2 for usage, 3 for the environment, 1 for failed checks). A traceback only with
PROVISIONER_DEBUG=1.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import typer

# Typer (>= 0.29, pinned in pyproject) vendors its own copy of click: its usage errors are these
# classes, not the `click` package's.
from typer._click import exceptions as click_exceptions
from typer._click.utils import echo
from typer.core import TyperGroup

from provisioner.errors import EXIT_USAGE, ProvisionerError


def _debug() -> bool:
    return os.environ.get("PROVISIONER_DEBUG", "") not in ("", "0")


class OneLineErrors(TyperGroup):
    """Root group that turns errors into one line and an exit code, for people and CliRunner."""

    def main(  # type: ignore[override]
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except typer.Abort:
            echo("error: aborted", err=True)
            code = 130
        except click_exceptions.UsageError as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
            echo(f"error: {exc.format_message()}{hint}", err=True)
            code = EXIT_USAGE
        except click_exceptions.ClickException as exc:
            echo(f"error: {exc.format_message()}", err=True)
            code = exc.exit_code
        except ProvisionerError as exc:
            if _debug():
                raise
            echo(f"error: {exc}", err=True)
            code = exc.exit_code
        else:
            code = result if isinstance(result, int) else 0
        if standalone_mode:
            sys.exit(code)
        return code


app = typer.Typer(
    cls=OneLineErrors,
    name="provisioner",
    help="Single-tenant instance provisioning: plan, check and run one AWS stack per tenant.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """Single-tenant instance provisioning: plan, check and run one AWS stack per tenant."""


def _register() -> None:
    """Attach every command and sub-app: each CLI module has `register(root)`, which adds its
    commands (or its sub-app) and imports its heavy dependencies lazily. `tenants` first: other
    modules add commands to its sub-app."""
    from provisioner.cli import (
        audit,
        backups,
        billing,
        check,
        cost,
        doctor,
        fleet,
        incident,
        plan,
        policy,
        pool,
        region,
        release,
        restore,
        retention,
        rollout,
        serve,
        tenant_ops,
        tenant_records,
        tenant_rollout,
        tenants,
        worker,
    )

    for module in (
        tenants, tenant_records, tenant_ops, tenant_rollout, billing, retention, fleet, incident,
        release, rollout, plan, check, policy, region, doctor, serve, worker, audit, backups,
        restore, cost, pool,
    ):  # fmt: skip
        module.register(app)  # worker also adds `tenants retry`


_register()


def main() -> None:
    app()
