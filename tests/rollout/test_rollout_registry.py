"""Rollouts end to end on the registry (SQLite and PostgreSQL) with real Worker objects over
the engine double: waves, bake, halt, resume, abort, roll back; pins, windows, holds; the
danger gate; releases are immutable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from provisioner.errors import DangerousChange, IllegalTransition, UsageError
from provisioner.registry import Registry
from provisioner.registry import rollouts as store
from provisioner.registry.models import releases as releases_table
from provisioner.registry.tenant_say import release_status, set_facts
from provisioner.rollout import controller as ctl
from provisioner.rollout import service
from provisioner.rollout.changes import Changes, ReleaseRef
from provisioner.rollout.driver import Driver
from provisioner.rollout.health import HealthTarget
from provisioner.rollout.strategy import ChangeGroup, Strategy
from provisioner.worker import Worker, WorkerSettings
from tests.rollout.conftest import Clock, add_tenants, classes, release
from tests.worker.engine_double import DoubleEngine

CANARY, TRIALS = ["canary-de"], ["trial-de", "trial-de-2", "trial-us"]
PAID = ["paid-de-1", "paid-de-2", "paid-us-1"]


class Flaky:
    """A health check that fails the tenants it is told to."""

    name = "test"

    def __init__(self) -> None:
        self.unhealthy: set[str] = set()
        self.checked: list[str] = []

    def check(self, target: HealthTarget) -> str | None:
        self.checked.append(target.slug)
        return "https: answered 503" if target.slug in self.unhealthy else None


def _fleet(registry: Registry) -> None:
    add_tenants(registry, "canary-de", "trial-de", "trial-de-2", plan="trial")
    add_tenants(registry, "trial-us", location="us", plan="trial")
    add_tenants(registry, "paid-de-1", "paid-de-2", plan="standard")
    add_tenants(registry, "paid-us-1", location="us", plan="standard")
    set_facts(registry, "canary-de", "rollout.canary", {"canary": True}, actor="t", reason="",
              now=datetime.now(UTC))


class Harness:
    def __init__(self, registry: Registry, tmp_path: Path, clock: Clock) -> None:
        self.registry = registry
        self.clock = clock
        self.engine = DoubleEngine(tmp_path / "stacks")
        self.health = Flaky()
        self.worker = Worker(registry, self.engine,
                             WorkerSettings(program_version="p1", poll_seconds=0.01,
                                            retry_base_seconds=3600), clock=clock)
        self.driver = Driver(store.RegistryStore(registry), [self.health])

    def round(self, minutes: float = 0) -> None:
        self.clock.advance(minutes * 60)
        self.driver.tick(self.clock())
        self.worker.run(once=True)

    def start(self, release_id: int, **strategy: str) -> int:
        options = {"bake": "10m", "ignore_windows": True, **strategy}
        return service.start(
            self.registry, release_id, Strategy.parse(**options),  # type: ignore[arg-type]
            planner=classes(self.registry), actor="test", reason="", approve_dangerous=None,
            now=self.clock(),
        )

    def run_until_settled(self, rollout_id: int, rounds: int = 40) -> store.RolloutSummary:
        for _ in range(rounds):
            self.round(minutes=11)
            summary = store.get_rollout(self.registry, rollout_id)
            if summary.state != ctl.RUNNING:
                return summary
        raise AssertionError(f"rollout {rollout_id} did not settle")

    def releases(self, slug: str) -> list[int]:
        return list(self.engine.state(slug).get("releases", []))


@pytest.fixture
def harness(registry: Registry, tmp_path: Path, clock: Clock) -> Harness:
    _fleet(registry)
    h = Harness(registry, tmp_path, clock)
    h.worker.run(once=True)  # every stack built by the worker's own program
    return h


def test_rollout_goes_wave_by_wave_baking_between_waves(harness: Harness) -> None:
    r1 = release(harness.registry, 1)
    rollout_id = harness.start(r1.id)
    summary = store.get_rollout(harness.registry, rollout_id)
    assert [w["name"] for w in summary.waves][:3] == ["canary", "groups", "trials"]
    harness.round()  # canary targeted and applied
    assert harness.releases("canary-de") == [r1.id]
    assert all(harness.releases(s) == [] for s in TRIALS + PAID)  # nothing else yet
    harness.round()  # verified, bake starts
    harness.round(minutes=5)  # still baking: the next wave has not started
    assert all(harness.releases(s) == [] for s in TRIALS + PAID)
    summary = harness.run_until_settled(rollout_id)
    assert summary.state == ctl.COMPLETED, summary
    for slug in CANARY + TRIALS + PAID:
        assert harness.releases(slug) == [r1.id], slug  # exactly once each
        tenant = release_status(harness.registry, slug, harness.clock())
        assert tenant["release"] == r1.id and tenant["target_release"] == r1.id
    kinds = [e["kind"] for e in store.rollout_history(harness.registry, rollout_id)]
    assert kinds[0] == "rollout.started" and kinds[-1] == "rollout.completed"
    assert kinds.count("rollout.wave.baking") == len(summary.waves)
    assert sorted(set(harness.health.checked)) == sorted(CANARY + TRIALS + PAID)
    # Nothing left for the workers: a release-managed tenant is not drifted by program version.
    assert harness.worker.run(once=True).claimed == 0


def test_bad_release_halts_in_the_first_wave_then_resume_abort_and_roll_back(
    harness: Harness,
) -> None:
    r1, r2, r3 = (release(harness.registry, n) for n in (1, 2, 3))
    assert harness.run_until_settled(harness.start(r1.id)).state == ctl.COMPLETED
    harness.engine.bad_releases = {r2.id}
    bad = harness.start(r2.id)
    summary = harness.run_until_settled(bad)
    assert summary.state == ctl.HALTED
    assert summary.failing == CANARY and "error budget 0" in (summary.halt_reason or "")
    # Nothing beyond the canary received the bad release; the canary is still on r1.
    assert all(harness.releases(s) == [r1.id] for s in TRIALS + PAID)
    assert release_status(harness.registry, "canary-de", harness.clock())["release"] == r1.id
    for _ in range(3):  # halted: ticks start nothing
        harness.round(minutes=30)
    assert all(harness.releases(s) == [r1.id] for s in TRIALS + PAID)
    with pytest.raises(UsageError, match="still active"):
        harness.start(r3.id)
    # Resume accepts the canary's failure; the next wave fails too and halts again.
    store.operate(harness.registry, bad, "resume", actor="t", reason="retry", now=harness.clock())
    summary = harness.run_until_settled(bad)
    assert summary.state == ctl.HALTED and summary.wave == 1
    with pytest.raises(IllegalTransition):
        store.operate(harness.registry, bad, "pause", actor="t", reason="", now=harness.clock())
    store.operate(harness.registry, bad, "abort", actor="t", reason="bad", now=harness.clock())
    assert store.get_rollout(harness.registry, bad).state == ctl.ABORTED
    # A good release, then back to the previous one: going back is applying it again.
    assert harness.run_until_settled(harness.start(r3.id)).state == ctl.COMPLETED
    assert harness.run_until_settled(harness.start(r1.id)).state == ctl.COMPLETED
    for slug in TRIALS + PAID:
        assert harness.releases(slug) == [r1.id, r3.id, r1.id], slug


def test_unhealthy_tenants_count_against_the_budget(harness: Harness) -> None:
    r1 = release(harness.registry, 1)
    harness.health.unhealthy = {"canary-de"}
    summary = harness.run_until_settled(harness.start(r1.id))
    assert summary.state == ctl.HALTED and summary.failing == ["canary-de"]
    rows = {r["slug"]: r for r in store.rollout_tenant_rows(harness.registry, summary.id)}
    assert rows["canary-de"]["reason"] == "https: answered 503"


def test_pins_holds_deletion_and_windows_are_honoured(harness: Harness) -> None:
    now = harness.clock()
    set_facts(harness.registry, "paid-de-1", "rollout.pinned",
              {"pinned_until": now + timedelta(days=30), "pin_reason": "quarter close"},
              actor="t", reason="", now=now)
    set_facts(harness.registry, "paid-de-2", "legal-hold", {"legal_hold": "case 12"},
              actor="t", reason="", now=now)
    # paid-us-1's window opens in 3 hours: the rollout waits for it (windows respected).
    local = now.astimezone(UTC)
    opens = (local + timedelta(hours=3)).strftime("%H:%M")
    closes = (local + timedelta(hours=4)).strftime("%H:%M")
    set_facts(harness.registry, "paid-us-1", "rollout.window",
              {"maintenance_window": f"{opens}-{closes} UTC"}, actor="t", reason="", now=now)
    for slug in CANARY + TRIALS:  # always open, so only the window under test matters
        set_facts(harness.registry, slug, "rollout.window",
                  {"maintenance_window": "00:00-23:59 UTC"}, actor="t", reason="", now=now)
    r1 = release(harness.registry, 1)
    rollout_id = harness.start(r1.id, ignore_windows=False, bake="0")  # type: ignore[arg-type]
    # Before their wave comes, `tenants show` already says the hold and the pin will skip them.
    held = release_status(harness.registry, "paid-de-2", now)["waiting"]
    assert held.endswith("skipped when its wave comes if still on legal hold"), held
    pinned = release_status(harness.registry, "paid-de-1", now)["waiting"]
    assert "if still pinned until" in pinned and "quarter close" in pinned, pinned
    for _ in range(12):
        harness.round(minutes=1)
    assert harness.releases("paid-us-1") == []
    waiting = release_status(harness.registry, "paid-us-1", harness.clock())["waiting"]
    assert waiting is not None and "maintenance window" in waiting
    summary = harness.run_until_settled(rollout_id)  # 11-minute rounds pass its opening
    assert summary.state == ctl.COMPLETED
    assert harness.releases("paid-us-1") == [r1.id]
    rows = {r["slug"]: r for r in store.rollout_tenant_rows(harness.registry, rollout_id)}
    assert rows["paid-de-1"]["status"] == ctl.SKIPPED and "quarter close" in rows["paid-de-1"][
        "reason"]
    assert rows["paid-de-2"]["status"] == ctl.SKIPPED and "legal hold" in rows["paid-de-2"][
        "reason"]
    assert harness.releases("paid-de-1") == [] and harness.releases("paid-de-2") == []


class Dangerous:
    def changes(self, moves: object, to: ReleaseRef) -> Changes:
        return Changes((ChangeGroup("g1", ("paid-de-1",), dangerous=True),), ("paid-de-1",))


def test_a_dangerous_change_needs_approval_with_a_reason(harness: Harness) -> None:
    r1 = release(harness.registry, 1)
    with pytest.raises(DangerousChange, match="approve-dangerous"):
        service.start(harness.registry, r1.id, Strategy.parse(), planner=Dangerous(),
                      actor="t", reason="", approve_dangerous=None, now=harness.clock())
    assert store.list_rollouts(harness.registry) == []
    rollout_id = service.start(harness.registry, r1.id, Strategy.parse(), planner=Dangerous(),
                               actor="t", reason="", approve_dangerous="db resize reviewed",
                               now=harness.clock())
    events = store.rollout_history(harness.registry, rollout_id)
    approved = [e for e in events if e["kind"] == "rollout.dangerous-approved"]
    assert approved and approved[0]["reason"] == "db resize reviewed"


def test_releases_are_immutable_in_the_database(registry: Registry) -> None:
    r1 = release(registry, 1)
    assert release(registry, 1) == r1  # the same program: the same release
    for statement in (
        sa.update(releases_table).where(releases_table.c.id == r1.id).values(notes="x"),
        sa.delete(releases_table).where(releases_table.c.id == r1.id),
    ):
        with pytest.raises(sa.exc.DBAPIError, match="immutable"), registry.write() as conn:
            conn.execute(statement)


def test_a_say_that_changes_nothing_records_nothing(registry: Registry) -> None:
    add_tenants(registry, "quiet", plan="standard")
    now = datetime(2026, 12, 1, tzinfo=UTC)

    def kinds() -> list[str]:
        return [e.kind for e in registry.events("quiet")]

    before = kinds()
    set_facts(registry, "quiet", "legal-hold.released", {"legal_hold": None}, actor="t",
              reason="", now=now)  # never held: no release to record
    set_facts(registry, "quiet", "rollout.unpinned", {"pinned_until": None, "pin_reason": None},
              actor="t", reason="", now=now)  # never pinned
    assert kinds() == before
    until = now + timedelta(days=30)
    pin = {"pinned_until": until, "pin_reason": "freeze"}
    set_facts(registry, "quiet", "rollout.pinned", pin, actor="t", reason="", now=now)
    set_facts(registry, "quiet", "rollout.pinned", pin, actor="t", reason="", now=now)
    assert kinds() == [*before, "rollout.pinned"]  # the same pin twice is one event
    set_facts(registry, "quiet", "rollout.unpinned", {"pinned_until": None, "pin_reason": None},
              actor="t", reason="", now=now)
    assert kinds()[-1] == "rollout.unpinned"
    assert release_status(registry, "quiet", now)["pinned_until"] is None
