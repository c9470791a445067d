"""`rollout simulate`: the real controller and driver over a store in memory, a simulated
engine (per-region capacity, update times, injected failures) and a virtual clock.

Nothing here decides anything about the rollout: waves come from `strategy.plan_waves`, every
step from `controller.step` through `driver.Driver`, exactly as for a real rollout. What is
simulated is what the workers and the cloud would do: a targeted tenant waits for a free slot in
its region (the region cap), its update takes a uniform random time between the bounds, and it
fails with the given probability. The driver is ticked as a worker polls (every `tick_seconds`
of virtual time), or sooner when something is due.
"""

from __future__ import annotations

import contextlib
import heapq
import random
from collections import defaultdict, deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from provisioner.registry import Registry
from provisioner.registry.tenant_say import rollout_facts
from provisioner.rollout import controller as ctl
from provisioner.rollout.changes import ClassChanges, ReleaseRef
from provisioner.rollout.driver import Driver
from provisioner.rollout.health import HealthTarget
from provisioner.rollout.strategy import Candidate, ChangeGroup, Strategy, Wave, plan_waves
from provisioner.rollout.windows import Window, default_window, window_of

LOCATIONS = ("us", "uk", "ie", "de", "au", "sg", "jp", "in")
EPOCH = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)  # a Monday, midnight UTC: runs are reproducible


@dataclass
class SimTenant:
    slug: str
    location: str
    plan: str
    paid: bool
    canary: bool = False
    desired_state: str = "active"
    legal_hold: bool = False
    pinned_until: datetime | None = None
    pin_reason: str = ""
    window: Window | None = None
    status: str = ctl.PENDING
    wave: int = -1
    reason: str = ""

    def candidate(self) -> Candidate:
        return Candidate(self.slug, self.location, self.plan, self.paid, self.canary)


def synthetic_fleet(count: int, seed: int, windows: bool = False) -> list[SimTenant]:
    """`count` tenants over the eight locations: 30% trials, 10% free, the rest paid (one in
    ten enterprise), one canary per 1,000 tenants (at least one); with `windows`, each has its
    location's default maintenance window."""
    rng = random.Random(seed)
    tenants = []
    canaries = max(1, count // 1000)
    for i in range(count):
        roll = rng.random()
        plan = "trial" if roll < 0.3 else "free" if roll < 0.4 else (
            "enterprise" if roll > 0.94 else "standard"
        )
        location = LOCATIONS[rng.randrange(len(LOCATIONS))]
        tenants.append(
            SimTenant(
                slug=f"t{i:06d}",
                location=location,
                plan=plan,
                paid=plan in ("standard", "enterprise"),
                canary=i < canaries,
                window=default_window(location) if windows else None,
            )
        )
    return tenants


def registry_fleet(registry: Registry, windows: bool = False) -> list[SimTenant]:
    """The registry's tenants with their canary flags, pins, holds and (with `windows`) their
    maintenance windows; deleted tenants left out, as a real rollout leaves them."""
    from provisioner.rollout.service import candidates

    found, _ = candidates(registry, release_id=-1)
    facts = {f["slug"]: f for f in rollout_facts(registry)}
    fleet = []
    for c in found:
        f = facts[c.slug]
        fleet.append(SimTenant(
            slug=c.slug, location=c.location, plan=c.plan, paid=c.paid, canary=c.canary,
            desired_state=f["desired_state"], legal_hold=bool(f["legal_hold"]),
            pinned_until=f["pinned_until"], pin_reason=f["pin_reason"] or "",
            window=window_of(c.location, f["maintenance_window"]) if windows else None,
        ))
    return fleet


def class_groups(tenants: Sequence[SimTenant]) -> list[ChangeGroup]:
    """Change groups for a simulation: tenants of one location and plan change identically (the
    classes `fleet plan` templates its plans by)."""
    planner = ClassChanges({t.slug: (t.location, t.plan) for t in tenants})
    return list(planner.changes({None: [t.slug for t in tenants]}, ReleaseRef(0, "")).groups)


@dataclass
class _State:
    view: ctl.RolloutView
    waves: list[Wave]
    started: dict[int, datetime] = field(default_factory=dict)
    finished: dict[int, datetime] = field(default_factory=dict)
    events: list[tuple[str, datetime, dict[str, Any]]] = field(default_factory=list)


class MemoryStore:
    """The driver's store, in memory: one rollout, its tenants; `on_target` is the engine."""

    def __init__(self, rollout: ctl.RolloutView, waves: list[Wave], tenants: list[SimTenant],
                 on_target: Any) -> None:
        self.tenants = {t.slug: t for t in tenants}
        self.state = _State(rollout, waves)
        for index, wave in enumerate(waves):
            for slug in wave.tenants:
                self.tenants[slug].wave = index
        self._on_target = on_target
        # The controller's view of each tenant, rebuilt only when its status changes: a wave is
        # read at every tick, and building thousands of views each time was most of a run.
        self.views = {
            t.slug: ctl.TenantView(
                slug=t.slug, location=t.location, status=t.status,
                desired_state=t.desired_state, legal_hold=t.legal_hold,
                pinned_until=t.pinned_until, pin_reason=t.pin_reason, window=t.window,
            )
            for t in tenants
        }

    def set_status(self, slug: str, status: str, reason: str = "") -> None:
        tenant = self.tenants[slug]
        tenant.status, tenant.reason = status, reason
        self.views[slug] = replace(self.views[slug], status=status)

    # -- RolloutStore --------------------------------------------------------------------------

    def active_rollouts(self) -> list[int]:
        return [self.state.view.id] if self.state.view.state in ctl.ACTIVE_STATES else []

    @contextlib.contextmanager
    def transaction(self, rollout_id: int) -> Iterator[_Tx]:
        yield _Tx(self)

    def health_targets(self, rollout_id: int, slugs: Sequence[str]) -> list[HealthTarget]:
        return [
            HealthTarget(s, self.tenants[s].location, self.tenants[s].plan) for s in slugs
        ]

    def record_health(self, rollout_id: int, wave: int, results: Mapping[str, str | None], *,
                      final: bool, now: datetime) -> None:
        expected = ctl.HEALTHY if final else ctl.APPLIED
        for slug, reason in results.items():
            tenant = self.tenants[slug]
            if tenant.status != expected:
                continue
            self.set_status(slug, ctl.FAILED if reason else ctl.HEALTHY, reason or "")
        if final:
            self.state.view = _replace(self.state.view, wave_checked=True)

    # -- what the simulated workers report -----------------------------------------------------

    def finished(self, slug: str, error: str | None) -> None:
        tenant = self.tenants[slug]
        if tenant.status == ctl.TARGETED:
            self.set_status(slug, ctl.FAILED if error else ctl.APPLIED, error or "")


class _Tx:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    @property
    def rollout(self) -> ctl.RolloutView:
        return self.store.state.view

    def wave_tenants(self, now: datetime) -> list[ctl.TenantView]:
        view = self.store.state.view
        if view.wave >= len(self.store.state.waves):
            return []
        views = self.store.views
        return [views[s] for s in self.store.state.waves[view.wave].tenants]

    def target(self, slugs: Sequence[str], now: datetime) -> None:
        for slug in slugs:
            self.store.set_status(slug, ctl.TARGETED)
            self.store._on_target(slug, now)

    def skip(self, reasons: Mapping[str, str], now: datetime) -> None:
        for slug, reason in reasons.items():
            self.store.set_status(slug, ctl.SKIPPED, reason)

    def withdraw(self, slugs: Sequence[str], now: datetime) -> None:
        for slug in slugs:
            self.store.set_status(slug, ctl.PENDING)

    def update(self, now: datetime, **values: Any) -> None:
        state = self.store.state
        values.pop("halt_reason", None)
        values.pop("failing", None)
        state.view = _replace(state.view, **values)
        if "wave" in values:
            state.started[values["wave"]] = now

    def event(self, kind: str, now: datetime, data: dict[str, Any], reason: str = "") -> None:
        state = self.store.state
        if kind == "rollout.wave.baking":  # every tenant of the wave settled
            state.finished[int(data["wave"])] = now
        state.events.append((kind, now, {**data, "reason": reason} if reason else data))


def _replace(view: ctl.RolloutView, **values: Any) -> ctl.RolloutView:
    return replace(view, **values)


class SimulatedEngine:
    """Per-region slots (the workers' region cap); each update takes a random time and fails
    with probability `failure_rate`. Tenants whose engine started count as having received the
    release (halting withdraws only those still queued)."""

    def __init__(self, *, region_cap: int, minutes: tuple[float, float], failure_rate: float,
                 rng: random.Random) -> None:
        self.region_cap = region_cap
        self.minutes = minutes
        self.failure_rate = failure_rate
        self.rng = rng
        self.queued: dict[str, deque[str]] = defaultdict(deque)
        self.running: dict[str, int] = defaultdict(int)
        self.events: list[tuple[datetime, int, str, str]] = []
        self.received: set[str] = set()
        self.location: dict[str, str] = {}
        self._seq = 0

    def on_target(self, slug: str, now: datetime) -> None:
        self.queued[self.location[slug]].append(slug)

    def start_due(self, now: datetime, store: MemoryStore) -> None:
        for location, queue in self.queued.items():
            while queue and self.running[location] < self.region_cap:
                slug = queue.popleft()
                if store.tenants[slug].status != ctl.TARGETED:
                    continue  # withdrawn before a slot was free
                self.running[location] += 1
                self.received.add(slug)
                minutes = self.rng.uniform(*self.minutes)
                self._seq += 1
                heapq.heappush(
                    self.events, (now + timedelta(minutes=minutes), self._seq, slug, location)
                )

    def next_due(self) -> datetime | None:
        return self.events[0][0] if self.events else None

    def finish_due(self, now: datetime, store: MemoryStore) -> int:
        done = 0
        while self.events and self.events[0][0] <= now:
            _, _, slug, location = heapq.heappop(self.events)
            self.running[location] -= 1
            failed = self.rng.random() < self.failure_rate
            store.finished(slug, "update: simulated failure" if failed else None)
            done += 1
        return done


class _AlwaysHealthy:
    name = "simulated"

    def check(self, target: HealthTarget) -> str | None:
        return None


@dataclass(frozen=True)
class SimulationOptions:
    strategy: Strategy
    failure_rate: float = 0.0
    minutes: tuple[float, float] = (4.0, 8.0)
    region_cap: int = 20
    seed: int = 0
    tick_seconds: float = 60.0  # how often a worker ticks the driver (virtual time)
    start: datetime = EPOCH


def simulate(tenants: list[SimTenant], groups: list[ChangeGroup],
             options: SimulationOptions) -> dict[str, Any]:
    """Run the rollout to its end (completed or halted); the summary `rollout simulate` prints."""
    rng = random.Random(options.seed)
    waves = plan_waves([t.candidate() for t in tenants], groups, options.strategy)
    view = ctl.RolloutView(
        id=1,
        release_id=2,
        state=ctl.RUNNING,
        wave=0,
        wave_names=tuple(w.name for w in waves),
        strategy=options.strategy,
        wave_started_at=options.start,
    )
    engine = SimulatedEngine(region_cap=options.region_cap, minutes=options.minutes,
                             failure_rate=options.failure_rate, rng=rng)
    engine.location = {t.slug: t.location for t in tenants}
    store = MemoryStore(view, waves, tenants, engine.on_target)
    store.state.started[0] = options.start
    driver = Driver(store, [_AlwaysHealthy()])
    now = options.start
    tick = timedelta(seconds=options.tick_seconds)
    while True:
        engine.finish_due(now, store)
        report = driver.tick(now)
        engine.start_due(now, store)
        if store.state.view.state != ctl.RUNNING or not waves:
            break
        candidates = [d for d in (engine.next_due(), report.wake) if d is not None]
        if not candidates:
            break  # nothing in flight and nothing due: cannot happen unless stuck
        now = max(min(candidates), now + tick)
    return _summary(store, engine, waves, now, options)


def _summary(store: MemoryStore, engine: SimulatedEngine, waves: list[Wave], now: datetime,
             options: SimulationOptions) -> dict[str, Any]:
    state = store.state
    tenants = store.tenants.values()
    halted = state.view.state == ctl.HALTED
    halt = next((e for e in reversed(state.events) if e[0] == "rollout.halted"), None)

    def offset(at: datetime | None) -> float | None:
        return None if at is None else round((at - options.start).total_seconds(), 1)

    wave_rows = []
    for index, wave in enumerate(waves):
        members = [store.tenants[s] for s in wave.tenants]
        wave_rows.append({
            "name": wave.name,
            "tenants": len(wave.tenants),
            "failed": sum(t.status == ctl.FAILED for t in members),
            "budget": options.strategy.error_budget.allowed(len(wave.tenants)),
            "started": offset(state.started.get(index)),
            "finished": offset(state.finished.get(index)),
        })
    return {
        "tenants": len(store.tenants),
        "updated": sum(t.status == ctl.HEALTHY for t in tenants),
        "failed": sum(t.status == ctl.FAILED for t in tenants),
        "skipped": sum(t.status == ctl.SKIPPED for t in tenants),
        "received": len(engine.received),
        "halted": halted,
        "halt_reason": halt[2].get("reason") if halt else None,
        "halted_in_wave": halt[2].get("name") if halt else None,
        "duration_s": offset(now),
        "waves": wave_rows,
    }
