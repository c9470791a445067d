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
    """Attach every command and sub-app. Each module imports its heavy dependencies lazily."""
    # One import and one call per noun; each module keeps its heavy imports lazy.
    from provisioner.cli import (
        audit,
        backups,
        billing,
        check,
        doctor,
        fleet,
        plan,
        policy,
        pool,
        restore,
        retention,
        serve,
        tenant_ops,  # noqa: F401  (adds its commands to the tenants sub-app)
        tenant_records,
        tenants,
        worker,
    )

    tenant_records.register(tenants.app)
    app.add_typer(tenants.app, name="tenants")
    app.add_typer(billing.app, name="billing")
    app.add_typer(retention.app, name="retention")
    app.add_typer(fleet.app, name="fleet")
    app.add_typer(pool.app, name="pool")
    for module in (plan, check, policy, doctor, serve, worker, audit, backups, restore):
        module.register(app)  # worker also adds `tenants retry`


_register()


def main() -> None:
    app()
