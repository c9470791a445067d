"""What every command shares: output formats, option parsing at the edge, JSON rendering.

Heavy modules (pulumi, rich tables, SQLAlchemy) are imported inside commands, not here, so
`provisioner --help` and `provisioner plan` start fast.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import typer

from provisioner.errors import UsageError


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


OUTPUT_OPTION = typer.Option(
    OutputFormat.table, "--output", "-o", help="table for people, json for machines."
)


def emit_json(data: Any) -> None:
    """Print `data` as sorted, indented JSON on stdout (deterministic, diff-friendly)."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def parse_at(value: str | None, option: str = "--at") -> datetime:
    """An ISO 8601 instant from the command line; naive values are taken as UTC. None is now."""
    if value is None:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise UsageError(
            f"{option} {value!r} is not an ISO 8601 date or time: use e.g. 2026-11-28 or"
            " 2026-11-28T09:00:00Z"
        ) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def stderr_console() -> Any:
    """A rich console on stderr for progress and notices (stdout stays for results)."""
    from rich.console import Console

    return Console(stderr=True)
