"""`provisioner tenants ...`: the tenant noun.

Registry commands (create, list, show, suspend, resume) and stack commands (preview, up, refresh,
destroy, outputs) both hang off this one sub-app; each lives in the module of its concern and adds
itself here with `@app.command()`.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Create, inspect and operate tenants.",
    no_args_is_help=True,
)
