"""The rollout controller: a pure state machine. Given a rollout, the tenants of its current
wave and the time, `step` says what to do next; the driver applies it (to the registry, or to
the simulation's memory) in one transaction, so a process killed at any point loses nothing.

Rollout states: running -> (paused <-> running) -> completed; running -> halted (error budget
exceeded) -> running (resume) or aborted; any unfinished state -> aborted.

A tenant in a rollout is, in order: pending -> targeted (its target release set; a worker
applies it) -> applied (the worker succeeded) -> healthy (health checks passed) or failed (the
update failed, the policy gate refused, or a health check failed); or skipped (deleted, being
deleted, on legal hold, pinned) or withdrawn back to pending (targeted, not yet claimed by a
worker, when the rollout halted, paused or was aborted).

A wave is done when every tenant in it is healthy, failed or skipped. It then bakes for the
strategy's bake time, its healthy tenants are checked again, and the next wave starts. As soon
as a wave's failures (beyond those accepted by a resume) exceed its error budget, the rollout
halts and nothing more is started.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from provisioner.rollout.strategy import Strategy
from provisioner.rollout.windows import Window

RUNNING, PAUSED, HALTED, ABORTED, COMPLETED = "running", "paused", "halted", "aborted", "completed"
ACTIVE_STATES = (RUNNING, PAUSED, HALTED)  # a rollout that still owns its tenants
PENDING, TARGETED, APPLIED, HEALTHY, FAILED, SKIPPED = (
    "pending",
    "targeted",
    "applied",
    "healthy",
    "failed",
    "skipped",
)
IN_FLIGHT = (TARGETED, APPLIED)
TERMINAL = (HEALTHY, FAILED, SKIPPED)


@dataclass(frozen=True)
class TenantView:
    """One tenant of the current wave, as the controller sees it."""

    slug: str
    location: str
    status: str
    desired_state: str = "active"
    legal_hold: bool = False
    pinned_until: datetime | None = None
    pin_reason: str = ""
    window: Window | None = None  # None: always open
    lease_held: bool = False  # a worker holds the tenant right now


@dataclass(frozen=True)
class RolloutView:
    id: int
    release_id: int
    state: str
    wave: int  # index of the current wave
    wave_names: tuple[str, ...]
    strategy: Strategy
    wave_started_at: datetime | None = None
    wave_finished_at: datetime | None = None  # every tenant terminal: the bake started
    wave_checked: bool = False  # the health checks after the bake ran
    accepted_failures: int = 0  # failures a resume accepted in the current wave

    @property
    def wave_name(self) -> str:
        return self.wave_names[self.wave] if self.wave < len(self.wave_names) else ""


@dataclass
class Step:
    """What to do now. Transitions are applied after the tenant changes."""

    target: list[str] = field(default_factory=list)
    skip: dict[str, str] = field(default_factory=dict)  # slug -> reason
    withdraw: list[str] = field(default_factory=list)
    verify: list[str] = field(default_factory=list)  # run the health checks on these
    final_check: bool = False  # `verify` is the check after the bake
    transition: str | None = None  # bake, advance, complete, halt
    reason: str = ""
    failing: list[str] = field(default_factory=list)
    wake: datetime | None = None  # nothing changes by time alone before this

    @property
    def changes(self) -> bool:
        return bool(self.target or self.skip or self.withdraw or self.transition)


def skip_reason(t: TenantView, now: datetime) -> str | None:
    """Why a pending tenant is left out of the rollout, or None."""
    if t.desired_state in ("deleted",):
        return "deleted or being deleted"
    if t.legal_hold:
        return "on legal hold"
    if t.pinned_until is not None and t.pinned_until > now:
        return f"pinned until {t.pinned_until.isoformat()}: {t.pin_reason}".rstrip(": ")
    return None


def wait_reason(t: TenantView, strategy: Strategy, now: datetime) -> str | None:
    """Why a pending, eligible tenant is not started now (its window), or None."""
    if strategy.ignore_windows or t.window is None or t.window.is_open(now):
        return None
    opens = t.window.next_open(now)
    return f"waiting for its maintenance window {t.window} (opens {opens:%Y-%m-%d %H:%M} UTC)"


def budget(rollout: RolloutView, wave_size: int) -> int:
    return rollout.strategy.error_budget.allowed(wave_size)


def step(rollout: RolloutView, tenants: list[TenantView], now: datetime) -> Step:
    """The next step of `rollout` at `now`; `tenants`: its current wave, in slug order."""
    out = Step()
    if rollout.state in (HALTED, ABORTED, PAUSED):
        # Nothing new starts; what no worker has picked up yet goes back to pending.
        out.withdraw = sorted(t.slug for t in tenants if t.status == TARGETED and not t.lease_held)
        return out
    if rollout.state != RUNNING:
        return out
    if not tenants:
        out.transition = "advance" if rollout.wave + 1 < len(rollout.wave_names) else "complete"
        return out
    failed = sorted(t.slug for t in tenants if t.status == FAILED)
    allowed = budget(rollout, len(tenants))
    if len(failed) - rollout.accepted_failures > allowed:
        out.transition = "halt"
        out.failing = failed
        out.reason = (
            f"wave {rollout.wave_name!r}: {len(failed) - rollout.accepted_failures} of"
            f" {len(tenants)} tenant(s) failed, error budget {allowed}"
            f" ({rollout.strategy.error_budget})"
        )
        out.withdraw = sorted(t.slug for t in tenants if t.status == TARGETED and not t.lease_held)
        return out
    out.verify = sorted(t.slug for t in tenants if t.status == APPLIED)
    in_flight = Counter(t.location for t in tenants if t.status in IN_FLIGHT)
    wake: datetime | None = None
    for t in tenants:  # in slug order (the stores read them so)
        if t.status != PENDING:
            continue
        reason = skip_reason(t, now)
        if reason is not None:
            out.skip[t.slug] = reason
            continue
        if wait_reason(t, rollout.strategy, now) is not None:
            assert t.window is not None
            opens = t.window.next_open(now)
            wake = opens if wake is None else min(wake, opens)
            continue
        if in_flight[t.location] < rollout.strategy.in_flight:
            in_flight[t.location] += 1
            out.target.append(t.slug)
    out.wake = wake
    settled = all(t.status in TERMINAL or t.slug in out.skip for t in tenants)
    if not settled or out.verify:
        return out
    if rollout.wave_finished_at is None:
        out.transition = "bake"
        out.wake = now + timedelta(seconds=rollout.strategy.bake_seconds)
        if rollout.strategy.bake_seconds == 0:
            out.final_check = True
            out.verify = sorted(t.slug for t in tenants if t.status == HEALTHY)
        return out
    baked = rollout.wave_finished_at + timedelta(seconds=rollout.strategy.bake_seconds)
    if now < baked:
        out.wake = baked
        return out
    if not rollout.wave_checked:
        out.final_check = True
        out.verify = sorted(t.slug for t in tenants if t.status == HEALTHY)
        return out
    out.transition = "advance" if rollout.wave + 1 < len(rollout.wave_names) else "complete"
    return out
