"""Benchmark: `retention plan` over 100,000 tenants, on SQLite and on PostgreSQL.

    .venv/bin/python tests/benchmarks/retention_plan.py [--tenants 100000] [--runs 5]

PostgreSQL is measured when PROVISIONER_TEST_POSTGRES_URL is set (a throwaway schema, dropped
afterwards). Each database gets the same fleet: a mix of trials, free, paid, cancelled and
failing tenants with dates spread over a year, and one billing record per paid tenant spread
over ten years (so the 7-year purge has work). Printed side by side, medians of `--runs`:

- baseline: `SELECT count(*) FROM tenants` (what the database costs at all);
- scan: every live tenant's plan columns fetched, no filter, no rules (what reading the whole
  fleet costs; `plan` lets the database skip tenants no rule can touch yet);
- plan: `Registry.retention_plan(at)` (the rules over every live tenant, plus the purge), and
  the CPU seconds this process spent on it (steadier than wall time on a shared machine);
- cli: `provisioner retention plan --at ... -o json` end to end in a fresh process.

The target is under 2 seconds for `plan` on each database.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from provisioner import lifecycle, retention  # noqa: E402
from provisioner.registry import Registry  # noqa: E402
from provisioner.registry.models import billing_records, tenants  # noqa: E402
from tests.benchmarks._databases import backends, database  # noqa: E402

T0 = datetime(2026, 1, 1, tzinfo=UTC)
AT = datetime(2027, 1, 1, tzinfo=UTC)  # the instant planned for
DAY = timedelta(days=1)
LOCATIONS = {"us": "us-east-1", "uk": "eu-west-2", "de": "eu-central-1", "jp": "ap-northeast-1"}


def fleet(count: int, seed: int = 5) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Tenant rows and billing rows, made with the product's own pure lifecycle functions."""
    rng = random.Random(seed)
    rows, bills = [], []
    now = datetime(2026, 11, 1, tzinfo=UTC)
    for i in range(count):
        slug = f"tenant-{i:06d}"
        created = T0 + timedelta(seconds=rng.randrange(300 * 86400))
        kind = rng.random()
        plan = "trial" if kind < 0.3 else "free" if kind < 0.5 else "standard"
        facts = lifecycle.new_tenant(slug, plan, created, 14 if plan == "trial" else None)
        when = created + timedelta(seconds=rng.randrange(30 * 86400))
        if plan == "trial" and rng.random() < 0.5:
            facts, _ = lifecycle.billing_event(facts, "converted", when)
        elif plan == "free" and rng.random() < 0.6:
            facts, _ = lifecycle.billing_event(facts, "activity", when)
        elif plan == "standard":
            roll = rng.random()
            if roll < 0.1:
                facts, _ = lifecycle.billing_event(facts, "cancelled", when)
            elif roll < 0.2:
                facts, _ = lifecycle.billing_event(facts, "payment_failed", when)
            bills.append(
                {
                    "slug": slug,
                    "kind": "plan_changed",
                    "occurred_at": datetime(2017, 1, 1, tzinfo=UTC)
                    + timedelta(seconds=rng.randrange(3650 * 86400)),
                    "recorded_at": now,
                    "plan": "standard",
                    "external_id": None,
                    "source": "bench",
                    "data": None,
                }
            )
        if rng.random() < 0.3:  # some sweeps already ran
            facts, _ = retention.settle(facts, min(when + 60 * DAY, now))
        location = rng.choice(list(LOCATIONS))
        values = asdict(facts)
        values["desired_state"] = values.pop("state")
        values.update(location=location, region=LOCATIONS[location], generation=1, attempts=0,
                      version=1, updated_at=now)  # fmt: skip
        rows.append(values)
    return rows, bills


def load(url: str, rows: list[dict[str, Any]], bills: list[dict[str, Any]]) -> None:
    with Registry.open(url) as reg, reg.write() as conn:
        for start in range(0, len(rows), 5000):
            conn.execute(sa.insert(tenants), rows[start : start + 5000])
        for start in range(0, len(bills), 5000):
            conn.execute(sa.insert(billing_records), bills[start : start + 5000])
    if url.startswith("postgresql"):
        with sa.create_engine(url).begin() as conn:
            conn.exec_driver_sql("ANALYZE")


def median_seconds(fn: Callable[[], Any], runs: int) -> tuple[float, Any]:
    wall, _, result = median_times(fn, runs)
    return wall, result


def median_times(fn: Callable[[], Any], runs: int) -> tuple[float, float, Any]:
    """Median wall-clock seconds, median CPU seconds of this process, and the last result."""
    walls, cpus, result = [], [], None
    for _ in range(runs):
        start, cpu = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), result


def measure(url: str, runs: int) -> dict[str, Any]:
    with Registry.open(url) as reg:

        def count() -> int:
            with reg.read() as conn:
                query = sa.select(sa.func.count()).select_from(tenants)
                return int(conn.execute(query).scalar_one())

        def scan() -> int:
            from provisioner.registry.sweep import _PLAN_COLUMNS

            with reg.read() as conn:
                query = sa.select(*_PLAN_COLUMNS).where(tenants.c.desired_state != "deleted")
                return len(conn.execute(query).all())

        baseline, n = median_seconds(count, runs)
        scanned, live = median_seconds(scan, runs)
        planned, plan_cpu, actions = median_times(lambda: reg.retention_plan(AT), runs)
    env = {**os.environ, "PROVISIONER_DATABASE_URL": url}
    command = [sys.executable, "-m", "provisioner", "retention", "plan", "--at", AT.isoformat(),
               "-o", "json"]  # fmt: skip

    def cli() -> int:
        done = subprocess.run(command, env=env, capture_output=True, check=True)
        return len(done.stdout)

    cli_s, _ = median_seconds(cli, max(3, runs // 2))
    return {"tenants": n, "live": live, "actions": len(actions), "baseline": baseline,
            "scan": scanned, "plan": planned, "plan_cpu": plan_cpu, "cli": cli_s}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    rows, bills = fleet(args.tenants)
    results: dict[str, dict[str, Any]] = {}
    for backend in backends():  # sqlite, and postgresql when PROVISIONER_TEST_POSTGRES_URL is set
        with database(backend) as url:
            load(url, rows, bills)
            results[backend] = measure(url, args.runs)
    if "postgresql" not in results:
        print("PROVISIONER_TEST_POSTGRES_URL is not set: PostgreSQL skipped", file=sys.stderr)
    print(f"retention plan at {AT.date()}, {args.tenants} tenants, {len(bills)} billing records,"
          f" medians of {args.runs} runs (cli: of {max(3, args.runs // 2)})")  # fmt: skip
    print(f"{'database':<12}{'live':>8}{'actions':>9}{'count(*)':>11}{'scan':>9}{'plan':>9}"
          f"{'plan cpu':>10}{'cli':>9}")  # fmt: skip
    for name, r in results.items():
        print(f"{name:<12}{r['live']:>8}{r['actions']:>9}{r['baseline']:>10.3f}s{r['scan']:>8.3f}s"
              f"{r['plan']:>8.3f}s{r['plan_cpu']:>9.3f}s{r['cli']:>8.3f}s")  # fmt: skip
    print(f"load average (1, 5, 15 min) at the end: {os.getloadavg()}; {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
