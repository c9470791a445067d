"""What the registry's commands share: opening the registry, who the actor is, rendering.

Kept free of heavy imports at module level (SQLAlchemy loads when a command opens the registry).
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from provisioner.registry import Registry


def open_registry(url: str | None = None) -> Registry:
    """The registry at `url`, else PROVISIONER_DATABASE_URL, else the data directory's SQLite."""
    from provisioner.registry import Registry

    return Registry.open(url)


def actor() -> str:
    """Who is acting, for the audit trail: PROVISIONER_ACTOR, else `cli:<login name>`."""
    explicit = os.environ.get("PROVISIONER_ACTOR", "").strip()
    if explicit:
        return explicit
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no passwd entry (some containers)
        return f"cli:uid-{os.getuid()}"


def print_table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A plain rich table on stdout (people); JSON output never goes through here."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_edge=False, header_style="bold")
    for name in columns:
        table.add_column(name)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    Console().print(table)
