"""A tenant's say in rollouts: `tenants pin|unpin|canary|window|hold`.

- `pin SLUG --until DATE --reason TEXT`: rollouts leave the tenant on its release until then.
- `canary SLUG [--off]`: the tenant is in every rollout's first wave.
- `window SLUG "02:00-06:00 [ZONE]" | --default`: when it accepts updates (default: 01:00-05:00
  in its location's time zone).
- `hold SLUG --reason TEXT | --release`: a legal hold; rollouts skip the tenant.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import typer

from provisioner.cli._registry import actor, open_registry
from provisioner.cli.common import OUTPUT_OPTION, OutputFormat, emit_json, parse_at
from provisioner.errors import UsageError


def _set(slug: str, kind: str, values: dict[str, Any], reason: str, output: OutputFormat,
         said: str) -> None:
    from provisioner.registry.tenant_say import release_status, set_facts
    from provisioner.spec import validate_slug

    validate_slug(slug)
    now = datetime.now(UTC)
    with open_registry() as reg:
        set_facts(reg, slug, kind, values, actor=actor(), reason=reason, now=now)
        info = release_status(reg, slug, now)
    if output is OutputFormat.json:
        emit_json({"slug": slug, **info})
    else:
        typer.echo(f"{slug}: {said}")


def _reason(reason: str) -> str:
    if not reason.strip():
        raise UsageError("--reason is required: say why (it is recorded in the tenant's events)")
    return reason.strip()


def pin(
    slug: str = typer.Argument(..., help="The tenant."),
    until: str = typer.Option(..., "--until", help="ISO date or instant: 2026-12-31"),
    reason: str = typer.Option("", "--reason", help="Why (required)."),
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Keep the tenant on its current release until DATE (rollouts skip it)."""
    when = parse_at(until, "--until")
    if when <= datetime.now(UTC):
        raise UsageError(f"--until {until!r} is in the past: give a future date")
    _set(slug, "rollout.pinned", {"pinned_until": when, "pin_reason": _reason(reason)},
         reason.strip(), output, f"pinned until {when.isoformat()}")


def unpin(
    slug: str = typer.Argument(..., help="The tenant."),
    reason: str = typer.Option("", "--reason"),
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Lift a pin: the next rollout moves the tenant again."""
    _set(slug, "rollout.unpinned", {"pinned_until": None, "pin_reason": None}, reason, output,
         "unpinned")


def canary(
    slug: str = typer.Argument(..., help="The tenant."),
    off: bool = typer.Option(False, "--off", help="No longer a canary."),
    reason: str = typer.Option("", "--reason"),
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Make the tenant a canary: the first wave of every rollout."""
    _set(slug, "rollout.canary", {"canary": not off}, reason, output,
         "not a canary" if off else "canary")


def window(
    slug: str = typer.Argument(..., help="The tenant."),
    hours: str | None = typer.Argument(None, help='"HH:MM-HH:MM [ZONE]", e.g. "02:00-06:00"'),
    default: bool = typer.Option(False, "--default", help="Back to the location's default."),
    reason: str = typer.Option("", "--reason"),
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Set the tenant's maintenance window (the zone defaults to its location's)."""
    from provisioner.rollout.windows import LOCATION_TIME_ZONES, Window

    if default == (hours is not None):
        raise UsageError('give a window ("02:00-06:00 Europe/Berlin") or --default, not both')
    text = None
    if hours is not None:
        with open_registry() as reg:
            location = reg.get_tenant(slug).location
        text = str(Window.parse(hours, LOCATION_TIME_ZONES.get(location, "UTC")))
    _set(slug, "rollout.window", {"maintenance_window": text}, reason, output,
         f"maintenance window {text or 'default'}")


def hold(
    slug: str = typer.Argument(..., help="The tenant."),
    reason: str = typer.Option("", "--reason", help="The legal matter (required to set)."),
    release: bool = typer.Option(False, "--release", help="Lift the hold."),
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Put the tenant on legal hold (rollouts skip it), or lift the hold with --release."""
    if release:
        _set(slug, "legal-hold.released", {"legal_hold": None}, reason, output, "hold lifted")
        return
    text = _reason(reason)
    _set(slug, "legal-hold", {"legal_hold": text}, text, output, "on legal hold")


def register(root: typer.Typer) -> None:
    """Add the release-steering commands to the shared `tenants` sub-app."""
    from provisioner.cli.tenants import app as tenants_app

    for name, command in (("pin", pin), ("unpin", unpin), ("canary", canary),
                          ("window", window), ("hold", hold)):
        tenants_app.command(name)(command)
