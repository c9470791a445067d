"""Orchestration overhead per tenant: 10,000 new tenants drained by 4 worker processes through an
instant engine double (every operation returns at once), so all the time measured is the
workers' own: claiming with leases, recording observed state, outputs and events, releasing.
Baseline in the same run: one bare single-row INSERT transaction per tenant on the same database.

    PROVISIONER_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:55432/postgres \\
        .venv/bin/python tests/benchmarks/worker_drain.py [--tenants 10000] [--workers 4] [--runs 3]

Reported: wall time per tenant (drain time / tenants, the fleet's throughput view) and worker
CPU per tenant (the processes' CPU time / tenants). Target: under 10 ms per tenant.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import sqlalchemy as sa

from provisioner.engine.results import StackOutput
from provisioner.registry import Registry
from provisioner.registry.bound import bound
from provisioner.spec import TenantSpec
from provisioner.worker import Worker, WorkerSettings
from tests.benchmarks._databases import backends, database

LOCATIONS = ("us", "uk", "ie", "de", "au", "sg", "jp", "in")


class InstantEngine:
    """Every operation succeeds at once (a test double: lives in tests/)."""

    class Result:
        outputs = {"url": StackOutput("https://example.test", False)}  # noqa: RUF012

    def up(self, spec: Any) -> Any:
        return self.Result()

    def suspend(self, spec: Any) -> Any:
        return self.Result()

    def destroy(self, spec: Any) -> Any:
        return self.Result()


def seed(url: str, count: int) -> None:
    with Registry.open(url) as registry, registry.write() as conn:
        reg = bound(registry, conn)
        for i in range(count):
            spec = TenantSpec.create(f"t{i:06d}", LOCATIONS[i % len(LOCATIONS)], "trial")
            reg.create_tenant(spec, actor="bench")


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def drain(url: str, ready: Any, go: Any, done: Any) -> None:
    """Start up (imports, registry), say so, wait for the start signal, drain; report CPU used
    after the start signal only (start-up is not per-tenant overhead)."""
    with Registry.open(url) as registry:
        settings = WorkerSettings(program_version="bench", concurrency=4, poll_seconds=0.01)
        worker = Worker(registry, InstantEngine(), settings)
        ready.put(1)
        go.wait()
        before = _cpu()
        worker.run(once=True)
        done.put(_cpu() - before)


def bare_inserts(url: str, count: int) -> float:
    """Seconds per single-row INSERT transaction (the database's floor)."""
    with Registry.open(url) as registry:
        with registry.write() as conn:
            conn.exec_driver_sql("CREATE TABLE bench_floor (id INTEGER PRIMARY KEY, v TEXT)")
        start = time.perf_counter()
        for i in range(count):
            with registry.write() as conn:
                conn.execute(sa.text("INSERT INTO bench_floor (id, v) VALUES (:i, 'x')"), {"i": i})
        return (time.perf_counter() - start) / count


def one_run(backend: str, tenants: int, workers: int) -> dict[str, float]:
    with database(backend) as url:
        seed(url, tenants)
        ctx = multiprocessing.get_context("spawn")
        ready, results, go = ctx.Queue(), ctx.Queue(), ctx.Event()
        procs = [ctx.Process(target=drain, args=(url, ready, go, results)) for _ in range(workers)]
        for p in procs:
            p.start()
        for _ in procs:
            ready.get()
        start = time.perf_counter()
        go.set()
        cpu = sum(results.get() for _ in procs)
        for p in procs:
            p.join()
        wall = time.perf_counter() - start
        with Registry.open(url) as registry, registry.read() as conn:
            left = conn.execute(
                sa.text("SELECT count(*) FROM tenants WHERE observed_state IS NULL")
            ).scalar_one()
        floor = bare_inserts(url, min(tenants, 2000))
    if left:
        raise SystemExit(f"{left} tenants were not reconciled")
    return {
        "wall_ms": wall / tenants * 1000,
        "cpu_ms": cpu / tenants * 1000,
        "floor_ms": floor * 1000,
        "wall_s": wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(
        f"{args.tenants} tenants, {args.workers} worker processes x 4 slots, instant engine,"
        f" {args.runs} runs; medians"
    )
    print(
        f"{'backend':<11}{'drain s':>9}{'wall ms/tenant':>16}{'worker CPU ms/tenant':>22}"
        f"{'bare INSERT ms':>16}"
    )
    for backend in backends():
        runs = [one_run(backend, args.tenants, args.workers) for _ in range(args.runs)]
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        print(
            f"{backend:<11}{med['wall_s']:>9.1f}{med['wall_ms']:>16.2f}{med['cpu_ms']:>22.2f}"
            f"{med['floor_ms']:>16.2f}"
        )


if __name__ == "__main__":
    main()
