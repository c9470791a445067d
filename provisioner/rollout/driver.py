"""The rollout driver: reads a rollout and its current wave from a store, asks the controller
(a pure function) what to do, applies it in the same transaction, and runs the health checks
the controller asks for between transactions (a probe must never hold a lock).

The same driver runs real rollouts (store: the registry; called by every `provisioner worker`)
and `rollout simulate` (store: memory; engine and clock simulated). Any number of processes may
call `tick` at once: the store's transaction locks the rollout row, so one advances it and the
others see its result.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from provisioner.rollout import controller as ctl
from provisioner.rollout.health import HealthCheck, HealthTarget, run_checks


class RolloutTx(Protocol):
    """One locked rollout, inside a transaction."""

    @property
    def rollout(self) -> ctl.RolloutView: ...

    def wave_tenants(self, now: datetime) -> list[ctl.TenantView]: ...

    def target(self, slugs: Sequence[str], now: datetime) -> None:
        """Set the tenants' target release (workers apply it); status targeted."""

    def skip(self, reasons: Mapping[str, str], now: datetime) -> None: ...

    def withdraw(self, slugs: Sequence[str], now: datetime) -> None:
        """Target back to the current release; status pending."""

    def update(self, now: datetime, **values: Any) -> None:
        """Rollout fields: state, wave, wave_started_at, wave_finished_at, wave_checked,
        accepted_failures, halt_reason, failing."""

    def event(self, kind: str, now: datetime, data: dict[str, Any], reason: str = "") -> None: ...


class RolloutStore(Protocol):
    def active_rollouts(self) -> list[int]: ...

    def transaction(self, rollout_id: int) -> AbstractContextManager[RolloutTx | None]: ...

    def health_targets(self, rollout_id: int, slugs: Sequence[str]) -> list[HealthTarget]: ...

    def record_health(
        self,
        rollout_id: int,
        wave: int,
        results: Mapping[str, str | None],
        *,
        final: bool,
        now: datetime,
    ) -> None:
        """Verdicts (None: healthy) on the wave's applied (or, `final`, healthy) tenants."""


@dataclass
class TickReport:
    stepped: int = 0
    targeted: int = 0
    verified: int = 0
    transitions: list[str] = field(default_factory=list)
    wake: datetime | None = None


class Driver:
    def __init__(
        self,
        store: RolloutStore,
        checks: Sequence[HealthCheck] = (),
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = store
        self.checks = list(checks)
        self._clock = clock

    def tick(self, now: datetime | None = None) -> TickReport:
        """Advance every active rollout as far as it goes at `now`."""
        when = now or (self._clock() if self._clock else None)
        if when is None:
            raise ValueError("tick needs `now` or a clock")
        report = TickReport()
        for rollout_id in self.store.active_rollouts():
            for _ in range(8):  # a few steps at once: e.g. bake ends, checks pass, next wave
                if not self._step(rollout_id, when, report):
                    break
        return report

    def _step(self, rollout_id: int, now: datetime, report: TickReport) -> bool:
        """One controller step on one rollout; True when another step may do more now."""
        with self.store.transaction(rollout_id) as tx:
            if tx is None:
                return False
            view = tx.rollout
            decision = ctl.step(view, tx.wave_tenants(now), now)
            report.stepped += 1
            if decision.skip:
                tx.skip(decision.skip, now)
            if decision.withdraw:
                tx.withdraw(decision.withdraw, now)
            if decision.target:
                tx.target(decision.target, now)
                report.targeted += len(decision.target)
            if decision.transition:
                self._transition(tx, view, decision, now)
                report.transitions.append(f"{view.id}:{decision.transition}")
        if decision.wake is not None:
            report.wake = decision.wake if report.wake is None else min(report.wake, decision.wake)
        if decision.verify or decision.final_check:
            self._verify(view, decision, now)
            report.verified += len(decision.verify)
            return True
        return decision.transition in ("bake", "advance")

    def _transition(
        self, tx: RolloutTx, view: ctl.RolloutView, decision: ctl.Step, now: datetime
    ) -> None:
        kind = decision.transition
        wave = {"wave": view.wave, "name": view.wave_name}
        if kind == "bake":
            tx.update(now, wave_finished_at=now)
            tx.event("rollout.wave.baking", now, wave)
        elif kind == "advance":
            tx.update(
                now,
                wave=view.wave + 1,
                wave_started_at=now,
                wave_finished_at=None,
                wave_checked=False,
                accepted_failures=0,
            )
            tx.event("rollout.wave.finished", now, wave)
            tx.event(
                "rollout.wave.started",
                now,
                {"wave": view.wave + 1, "name": view.wave_names[view.wave + 1]},
            )
        elif kind == "complete":
            tx.update(now, state=ctl.COMPLETED)
            tx.event("rollout.wave.finished", now, wave)
            tx.event("rollout.completed", now, {"release": view.release_id})
        elif kind == "halt":
            tx.update(now, state=ctl.HALTED, halt_reason=decision.reason, failing=decision.failing)
            tx.event("rollout.halted", now, {**wave, "failing": decision.failing}, decision.reason)

    def _verify(self, view: ctl.RolloutView, decision: ctl.Step, now: datetime) -> None:
        targets = self.store.health_targets(view.id, decision.verify)
        results = {t.slug: run_checks(self.checks, t) for t in targets}
        self.store.record_health(view.id, view.wave, results, final=decision.final_check, now=now)

