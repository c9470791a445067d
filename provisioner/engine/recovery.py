"""Pure decisions the engine takes on its own: how long to wait for a lock, which zone to try
next after a capacity error, which operations a crashed update left pending.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from provisioner.engine.results import PendingOperation


@dataclass(frozen=True)
class LockWait:
    """Bounded exponential backoff while another update holds the stack's lock.

    Pulumi has no built-in wait (pulumi/pulumi#4052, #9047 still open), so the engine retries.
    """

    first_delay_seconds: float = 5.0
    factor: float = 2.0
    max_delay_seconds: float = 60.0
    max_total_seconds: float = 600.0  # 10 minutes: a tenant update rarely takes longer


def backoff_delays(policy: LockWait) -> tuple[float, ...]:
    """The sleeps between attempts; their sum never exceeds `max_total_seconds`."""
    delays: list[float] = []
    delay, total = policy.first_delay_seconds, 0.0
    while delay > 0 and total + delay <= policy.max_total_seconds:
        delays.append(delay)
        total += delay
        delay = min(delay * policy.factor, policy.max_delay_seconds)
    return tuple(delays)


def region_of_zone(zone: str) -> str:
    """eu-central-1a -> eu-central-1 (zone names are the region plus a letter)."""
    return zone.rstrip("abcdefghijklmnopqrstuvwxyz") if zone[-1:].isalpha() else zone


def next_zone(
    region: str,
    zones: Iterable[str],
    tried: Iterable[str],
    suggested: Iterable[str] = (),
) -> str | None:
    """The next zone to try after AWS refused capacity, or None when none is left.

    Only zones of the tenant's own region (the data stays where the customer chose), only zones
    the tenant's subnets exist in, never one already tried; AWS's own suggestions first.
    """
    candidates = [z for z in zones if region_of_zone(z) == region]
    done = set(tried)
    preferred = [z for z in suggested if z in candidates and z not in done]
    if preferred:
        return preferred[0]
    rest = [z for z in candidates if z not in done]
    return rest[0] if rest else None


def pending_operations(deployment: Mapping[str, Any] | None) -> tuple[PendingOperation, ...]:
    """Pending operations recorded in an exported deployment (`pending_operations` section)."""
    if not deployment:
        return ()
    found = []
    for entry in deployment.get("pending_operations") or ():
        resource = entry.get("resource") or {}
        urn = resource.get("urn")
        if urn:
            found.append(PendingOperation(urn=str(urn), type=str(entry.get("type", "unknown"))))
    return tuple(sorted(found, key=lambda op: op.urn))
