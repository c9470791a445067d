"""Two `retention apply` runs at once never apply one action twice (SQLite and PostgreSQL).

Both runs are made to plan before either applies (a barrier after planning), so both hold the
same list of due actions: the row locks and the re-check under them must turn the second into a
no-op. Then the same with two real `provisioner retention apply` processes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import timedelta
from typing import Any

from provisioner.registry import Registry
from provisioner.registry.records import ApplyResult
from provisioner.spec import TenantSpec
from tests.registry.conftest import T0

DAY = timedelta(days=1)
TENANTS = 40
DUE_AT = T0 + 100 * DAY  # every seeded tenant: suspend + delete (trial), or delete (free)


class PlansThenWaits(Registry):
    """A registry whose sweep waits at a barrier between planning and applying."""

    barrier: threading.Barrier

    def retention_plan(self, at: Any, *, upcoming: Any = None) -> Any:
        actions = super().retention_plan(at, upcoming=upcoming)
        self.barrier.wait(timeout=30)
        return actions


def seed(url: str) -> int:
    """Due actions for TENANTS tenants plus one billing purge; returns how many actions."""
    with Registry.open(url) as reg:
        for i in range(TENANTS):
            plan = "trial" if i % 2 else "free"
            reg.create_tenant(TenantSpec.create(f"tenant-{i:03d}", "de", plan), actor="t", at=T0)
        reg.record_billing_event("tenant-000", "converted", actor="t", at=T0, plan="standard")
        reg.record_billing_event("tenant-000", "cancelled", actor="t", at=T0 + DAY)
        planned = reg.retention_plan(DUE_AT + 3000 * DAY)
    return len(planned)


def event_counts(url: str) -> dict[str, int]:
    with Registry.open(url) as reg:
        counts: dict[str, int] = {}
        for tenant in reg.list_tenants():
            for event in reg.events(tenant.slug):
                if event.kind.startswith("retention."):
                    counts[event.kind] = counts.get(event.kind, 0) + 1
        return counts


def test_two_sweeps_at_once_apply_each_action_once(db_url: str) -> None:
    expected = seed(db_url)
    at = DUE_AT + 3000 * DAY  # past the billing purge too
    barrier = threading.Barrier(2)
    results: list[ApplyResult] = []
    errors: list[BaseException] = []

    def sweep() -> None:
        try:
            with PlansThenWaits.open(db_url) as reg:
                reg.barrier = barrier
                results.append(reg.retention_apply(at, actor="sweeper"))
        except BaseException as exc:  # report in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert len(results) == 2
    assert sum(len(r.applied) for r in results) == expected  # each action exactly once
    assert sum(r.purged_billing_records for r in results) == 2
    deletions = TENANTS
    assert event_counts(db_url) == {
        "retention.suspend": TENANTS // 2,
        "retention.delete": deletions,
        "retention.purge-billing": 1,
    }
    with Registry.open(db_url) as reg:
        assert all(t.desired_state == "deleted" for t in reg.list_tenants())
        assert all(t.generation in (2, 3) for t in reg.list_tenants())


def test_two_cli_processes_at_once(db_url: str, tmp_path: Any) -> None:
    expected = seed(db_url)
    env = {**os.environ, "PROVISIONER_DATABASE_URL": db_url, "PROVISIONER_HOME": str(tmp_path)}
    command = [sys.executable, "-m", "provisioner", "retention", "apply",
               "--at", (DUE_AT + 3000 * DAY).isoformat(), "-o", "json"]  # fmt: skip
    procs = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    applied = [json.loads(out)["applied"] for out, _ in outputs]
    assert sum(len(a) for a in applied) == expected
    assert event_counts(db_url)["retention.delete"] == TENANTS
