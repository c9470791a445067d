"""A worker process killed with SIGKILL in the middle of a rollout loses nothing: another worker
process carries the rollout to its end, and every tenant receives the release exactly once (no
two operations on one stack at a time). Real processes, on SQLite and PostgreSQL."""

from __future__ import annotations

import signal
from datetime import UTC, datetime
from pathlib import Path

from provisioner.registry import Registry
from provisioner.registry import rollouts as store
from provisioner.rollout import controller as ctl
from provisioner.rollout import service
from provisioner.rollout.strategy import Strategy
from tests.rollout.conftest import add_tenants, classes, release
from tests.worker.engine_double import DoubleEngine
from tests.worker.test_crash import _start, _wait

PAID = [f"paid-{i:02d}" for i in range(10)]
TRIALS = ["trial-01", "trial-02"]


def test_sigkill_mid_rollout_then_another_worker_finishes_it_exactly_once(
    db_url: str, tmp_path: Path
) -> None:
    stacks = tmp_path / "stacks"
    log = tmp_path / "workers.log"
    double = DoubleEngine(stacks)  # only to read the stacks the workers write
    with Registry.open(db_url) as registry:
        add_tenants(registry, *TRIALS, plan="trial")
        add_tenants(registry, *PAID, plan="standard")
        first = _start(db_url, stacks, log)
        try:
            _wait(lambda: all(t.observed_state == "active" for t in registry.list_tenants()),
                  90, "every tenant to be built")
            r1 = release(registry, 1)
            rollout_id = service.start(
                registry, r1.id,
                Strategy.parse(waves="trials,10%,50%,100%", bake="0", in_flight=4,
                               ignore_windows=True),
                planner=classes(registry), actor="test", reason="", approve_dangerous=None,
                now=datetime.now(UTC),
            )
            _wait(lambda: len(double.in_progress()) >= 2, 60, "release updates to start")
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        interrupted = set(double.in_progress())
        assert interrupted and not any(double.state(s).get("releases") for s in interrupted)

        second = _start(db_url, stacks, log)
        try:
            _wait(lambda: store.get_rollout(registry, rollout_id).state != ctl.RUNNING, 120,
                  "the rollout to finish")
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(30) == 0, log.read_text()[-3000:]

        summary = store.get_rollout(registry, rollout_id)
        assert summary.state == ctl.COMPLETED, summary
        assert summary.counts[ctl.HEALTHY] == len(TRIALS + PAID)
        assert double.overlaps() == []
        for slug in TRIALS + PAID:
            assert double.state(slug)["releases"] == [r1.id], slug  # applied exactly once
            assert double.state(slug)["creates"] == 1, slug
        kinds = [e["kind"] for e in store.rollout_history(registry, rollout_id)]
        assert kinds.count("rollout.completed") == 1
        assert kinds.count("rollout.wave.started") == len(summary.waves) - 1
