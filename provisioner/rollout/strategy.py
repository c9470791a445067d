"""How a rollout proceeds: its waves, bake time, error budget and region order. Pure.

Wave specification (`--waves`): comma-separated stages, in order:

    canary            tenants flagged as canaries (`tenants canary SLUG`)
    groups            one tenant of every change group `fleet plan` finds
    trials            trial and free tenants
    1%,10%,50%,100%   paid tenants, region by region, in growing cumulative batches

The default is `canary,groups,trials,1%,10%,50%,100%`. A stage with no tenants is left out.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from provisioner.errors import UsageError

DEFAULT_WAVES = "canary,groups,trials,1%,10%,50%,100%"
DEFAULT_BAKE_SECONDS = 30 * 60
DEFAULT_ERROR_BUDGET = "0"
DEFAULT_IN_FLIGHT = 20  # per region: tenants targeted and not yet verified at once
NAMED_STAGES = ("canary", "groups", "trials")
_DURATION = re.compile(r"(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?")


def parse_duration(text: str, name: str = "duration") -> int:
    """'30m', '1h30m', '45s', '2d', '0' -> seconds; UsageError otherwise."""
    value = text.strip().lower()
    if value.isdigit():
        return int(value)
    match = _DURATION.fullmatch(value)
    if not value or match is None:
        raise UsageError(f"{name} {text!r}: use e.g. 30m, 1h30m, 45s or 0")
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


@dataclass(frozen=True)
class ErrorBudget:
    """Failures a wave may have before the rollout halts: a count, or a share of the wave."""

    count: int | None = None
    percent: float | None = None

    @classmethod
    def parse(cls, text: str) -> ErrorBudget:
        value = text.strip()
        try:
            if value.endswith("%"):
                percent = float(value[:-1])
                if not 0 <= percent <= 100:
                    raise ValueError
                return cls(percent=percent)
            count = int(value)
            if count < 0:
                raise ValueError
            return cls(count=count)
        except ValueError:
            raise UsageError(
                f"--error-budget {text!r}: give a number of failed tenants (2) or a share (5%)"
            ) from None

    def allowed(self, wave_size: int) -> int:
        if self.percent is not None:
            return math.floor(wave_size * self.percent / 100 + 1e-9)
        return self.count or 0

    def __str__(self) -> str:
        return f"{self.percent:g}%" if self.percent is not None else str(self.count or 0)


@dataclass(frozen=True)
class Strategy:
    stages: tuple[str, ...] = tuple(DEFAULT_WAVES.split(","))
    bake_seconds: int = DEFAULT_BAKE_SECONDS
    error_budget: ErrorBudget = field(default_factory=lambda: ErrorBudget(count=0))
    region_order: tuple[str, ...] = ()  # location codes first, in this order; the rest after
    in_flight: int = DEFAULT_IN_FLIGHT
    ignore_windows: bool = False

    @classmethod
    def parse(
        cls,
        waves: str = DEFAULT_WAVES,
        bake: str = "30m",
        error_budget: str = DEFAULT_ERROR_BUDGET,
        region_order: str = "",
        in_flight: int = DEFAULT_IN_FLIGHT,
        ignore_windows: bool = False,
        known_locations: Iterable[str] = (),
    ) -> Strategy:
        stages = tuple(s.strip().lower() for s in waves.split(",") if s.strip())
        if not stages:
            raise UsageError("--waves is empty: e.g. canary,groups,trials,1%,10%,50%,100%")
        last = 0.0
        for index, stage in enumerate(stages):
            if stage in NAMED_STAGES:
                # A repeated stage would be an empty wave: most likely a typo for another one.
                if stage in stages[:index]:
                    raise UsageError(f"--waves: {stage!r} is given twice")
                continue
            pct = _percent(stage)
            if pct is None or pct <= last or pct > 100:
                raise UsageError(
                    f"--waves: {stage!r} is not canary, groups, trials or a growing percentage"
                    " up to 100% (e.g. 1%,10%,50%,100%)"
                )
            last = pct
        if last and last != 100:
            raise UsageError("--waves: the last paid batch must be 100% (every paid tenant)")
        order = tuple(r.strip().lower() for r in region_order.split(",") if r.strip())
        known = set(known_locations)
        unknown = [r for r in order if known and r not in known]
        if unknown:
            raise UsageError(
                f"--region-order: unknown location(s) {', '.join(unknown)}:"
                f" use codes from regions.yaml ({', '.join(sorted(known))})"
            )
        if in_flight < 1:
            raise UsageError("--in-flight must be at least 1")
        return cls(
            stages=stages,
            bake_seconds=parse_duration(bake, "--bake"),
            error_budget=ErrorBudget.parse(error_budget),
            region_order=order,
            in_flight=in_flight,
            ignore_windows=ignore_windows,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "waves": ",".join(self.stages),
            "bake_seconds": self.bake_seconds,
            "error_budget": str(self.error_budget),
            "region_order": list(self.region_order),
            "in_flight": self.in_flight,
            "ignore_windows": self.ignore_windows,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Strategy:
        return cls(
            stages=tuple(str(data["waves"]).split(",")),
            bake_seconds=int(data["bake_seconds"]),
            error_budget=ErrorBudget.parse(str(data["error_budget"])),
            region_order=tuple(data.get("region_order") or ()),
            in_flight=int(data.get("in_flight") or DEFAULT_IN_FLIGHT),
            ignore_windows=bool(data.get("ignore_windows")),
        )


def _percent(stage: str) -> float | None:
    if not stage.endswith("%"):
        return None
    try:
        return float(stage[:-1])
    except ValueError:
        return None


@dataclass(frozen=True)
class Candidate:
    """A tenant a rollout may move: what the wave planner needs to know of it."""

    slug: str
    location: str
    plan: str
    paid: bool
    canary: bool = False


@dataclass(frozen=True)
class ChangeGroup:
    """Tenants whose plans change identically between their release and the new one."""

    id: str
    tenants: tuple[str, ...]
    changed: bool = True
    dangerous: bool = False


@dataclass(frozen=True)
class Wave:
    name: str
    tenants: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "tenants": len(self.tenants)}


def plan_waves(
    candidates: Sequence[Candidate], groups: Sequence[ChangeGroup], strategy: Strategy
) -> list[Wave]:
    """Every candidate in exactly one wave, in the strategy's order; empty waves left out.

    A tenant goes to the first stage that takes it: a canary to `canary`, the first tenant (by
    slug) of each changed group to `groups`, then trials, then paid tenants by region and batch.
    A tenant no stage takes (e.g. a paid tenant when no percentage stage is given) goes to a
    last wave `rest`, so a rollout always covers everyone it was started for.
    """
    by_slug = {c.slug: c for c in candidates}
    placed: set[str] = set()
    waves: list[Wave] = []

    def add(name: str, slugs: Iterable[str]) -> None:
        chosen = tuple(sorted(s for s in slugs if s in by_slug and s not in placed))
        if chosen:
            placed.update(chosen)
            waves.append(Wave(name, chosen))

    percents = [p for s in strategy.stages if (p := _percent(s)) is not None]
    paid_done = False
    for stage in strategy.stages:
        if stage == "canary":
            add("canary", (c.slug for c in candidates if c.canary))
        elif stage == "groups":
            reps = []
            for group in sorted(groups, key=lambda g: g.id):
                members = sorted(s for s in group.tenants if s in by_slug and s not in placed)
                if group.changed and members:
                    reps.append(members[0])
            add("groups", reps)
        elif stage == "trials":
            add("trials", (c.slug for c in candidates if not c.paid))
        elif not paid_done:  # the percentages: all paid waves at the first of them
            paid_done = True
            _paid_waves(candidates, strategy, percents, placed, add)
    add("rest", (c.slug for c in candidates))
    return waves


def _paid_waves(
    candidates: Sequence[Candidate],
    strategy: Strategy,
    percents: list[float],
    placed: set[str],
    add: Callable[[str, Iterable[str]], None],
) -> None:
    locations = sorted({c.location for c in candidates})
    order = [r for r in strategy.region_order if r in locations]
    order += [r for r in locations if r not in order]
    for location in order:
        paid = sorted(c.slug for c in candidates if c.paid and c.location == location)
        paid = [s for s in paid if s not in placed]
        done = 0
        for pct in percents:
            upto = max(done + 1, math.ceil(len(paid) * pct / 100)) if paid else 0
            upto = min(upto, len(paid))
            add(f"paid {location} {pct:g}%", paid[done:upto])
            done = upto
