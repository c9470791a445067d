"""Drive `provisioner` through Typer's CliRunner, the way an operator would."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from typer.testing import CliRunner

from provisioner.cli.main import app
from provisioner.retention import iso

SHOW_AT = datetime(2026, 1, 1, tzinfo=UTC)  # schedules shown as of a fixed instant
US = timedelta(microseconds=1)  # the smallest step an instant can take here


def run(*args: str) -> Any:
    """Run a command; returns the click Result (exit_code, stdout, stderr)."""
    return CliRunner().invoke(app, [str(a) for a in args])


def ok_json(*args: str) -> Any:
    """Run a command with `-o json` that must succeed; returns its parsed JSON."""
    result = run(*args, "-o", "json")
    assert result.exit_code == 0, (args, result.output)
    return json.loads(result.stdout)


def at(value: datetime) -> str:
    return iso(value)


def plan(when: datetime, upcoming: int | None = None) -> list[dict[str, Any]]:
    extra = ("--upcoming", str(upcoming)) if upcoming is not None else ()
    return ok_json("retention", "plan", "--at", at(when), *extra)["actions"]  # type: ignore[no-any-return]


def apply(when: datetime) -> list[dict[str, Any]]:
    return ok_json("retention", "apply", "--at", at(when))["applied"]  # type: ignore[no-any-return]


def actions_of(actions: list[dict[str, Any]], slug: str) -> list[str]:
    return [a["action"] for a in actions if a["tenant"] == slug]


def snapshot(slug: str, when: datetime = SHOW_AT) -> dict[str, Any]:
    """Everything observable about a tenant: record, schedule (as of `when`), audit trail."""
    return ok_json("tenants", "show", slug, "--at", at(when))  # type: ignore[no-any-return]
