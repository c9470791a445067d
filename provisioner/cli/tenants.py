"""`provisioner tenants ...`: the tenant noun.

Registry commands (create, list, show, suspend, resume: tenant_records), stack commands (preview,
up, refresh, destroy, outputs, cancel: tenant_ops) and `retry` (worker) all hang off this one
sub-app; each lives in the module of its concern, whose `register(root)` adds it here.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Create, inspect and operate tenants.",
    no_args_is_help=True,
)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="tenants")
