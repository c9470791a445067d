"""A worker process killed with SIGKILL in the middle of operations loses nothing: its leases
expire, a second worker process takes the tenants over, and every tenant reaches its desired
state exactly once (one stack created per tenant, one recorded transition, no two operations on
one stack at a time). Real processes, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from provisioner.registry import Registry
from tests.worker.conftest import add_tenants
from tests.worker.engine_double import DoubleEngine

ENTRY = Path(__file__).resolve().parent / "run_worker.py"
SLUGS = [f"tenant-{i:02d}" for i in range(8)]


def _start(db_url: str, stacks: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "WORKER_TEST_DELAY": "1.0",
        "WORKER_TEST_LEASE": "2",
        "WORKER_TEST_CONCURRENCY": "4",
    }
    return subprocess.Popen(
        [sys.executable, str(ENTRY), db_url, str(stacks)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
    )


def _wait(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_sigkill_mid_operation_then_another_worker_finishes_exactly_once(
    db_url: str, tmp_path: Path
) -> None:
    stacks = tmp_path / "stacks"
    log = tmp_path / "workers.log"
    double = DoubleEngine(stacks)  # only to read the stacks the workers write
    with Registry.open(db_url) as registry:
        add_tenants(registry, *SLUGS)
        first = _start(db_url, stacks, log)
        try:
            _wait(lambda: len(double.in_progress()) >= 2, 30, "operations to start")
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        interrupted = set(double.in_progress())  # their locks outlive the killed process
        assert interrupted and not any(double.state(s).get("exists") for s in interrupted)

        second = _start(db_url, stacks, log)
        try:
            _wait(
                lambda: all(t.observed_state == "active" for t in registry.list_tenants()),
                90,
                "every tenant to be active",
            )
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(30) == 0, log.read_text()[-3000:]

        assert double.overlaps() == []
        for slug in SLUGS:
            assert double.state(slug)["creates"] == 1, slug
            assert double.state(slug).get("updates", 0) == 0, slug
            events = registry.events(slug)
            reached = [e for e in events if e.kind == "observed"]
            assert len(reached) == 1, (slug, [e.kind for e in events])
            assert reached[0].data and reached[0].data["observed_state"] == "active"
        # The interrupted tenants were attempted twice: once by the killed worker.
        for slug in interrupted:
            started = [e for e in registry.events(slug) if e.kind == "reconcile.started"]
            assert [e.data["attempt"] for e in started if e.data] == [1, 2], slug
