"""Rollout controller overhead per tenant: 10,000 built tenants moved to a new release by the
real driver over the registry, with an instant engine (each targeted tenant is reported applied
at once with the statements a worker adds to its recording transaction). All the time measured
is the rollout's own: starting it (waves, rollout tenants), the driver's ticks (reading the
wave, targeting, verifying, baking, advancing) and the worker-side statements recording each
tenant's release (their transaction is the worker's, which it commits anyway). Baseline in the
same run: one bare single-row UPDATE transaction per tenant on the same database.

    PROVISIONER_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:54329/postgres \\
        .venv/bin/python tests/benchmarks/rollout_controller.py [--tenants 10000] [--runs 3]

Target: under 5 ms per tenant.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import sqlalchemy as sa

from provisioner.registry import Registry
from provisioner.registry import rollouts as store
from provisioner.registry.bound import bound
from provisioner.registry.models import rollout_tenants, tenants
from provisioner.registry.releases import create_release
from provisioner.rollout import controller as ctl
from provisioner.rollout import service
from provisioner.rollout.changes import ClassChanges
from provisioner.rollout.driver import Driver
from provisioner.rollout.strategy import Strategy
from provisioner.spec import TenantSpec
from tests.benchmarks._databases import backends, database

LOCATIONS = ("us", "uk", "ie", "de", "au", "sg", "jp", "in")


def seed(registry: Registry, count: int) -> None:
    with registry.write() as conn:
        reg = bound(registry, conn)
        for i in range(count):
            plan = "trial" if i % 10 < 4 else "standard"
            reg.create_tenant(TenantSpec.create(f"t{i:06d}", LOCATIONS[i % 8], plan), actor="b")
    r1 = new_release(registry, 1)
    with registry.write() as conn:  # every stack built and on release 1
        conn.execute(sa.update(tenants).values(
            observed_state="active", observed_generation=tenants.c.generation,
            observed_plan=tenants.c.plan, release_id=r1, target_release_id=r1))


def new_release(registry: Registry, n: int) -> int:
    release, _ = create_release(registry, commit=f"{n:040d}", program_hash=f"h{n}", ref=f"v{n}",
                                notes="", actor="bench", now=datetime.now(UTC))
    return release.id


def baseline(registry: Registry, count: int) -> float:
    ids = [f"t{i:06d}" for i in range(count)]
    started = time.perf_counter()
    for slug in ids:
        with registry.write() as conn:
            conn.execute(sa.update(tenants).where(tenants.c.slug == slug)
                         .values(version=tenants.c.version + 1))
    return (time.perf_counter() - started) / count * 1000


def rollout(registry: Registry, release_id: int, count: int) -> dict[str, float]:
    classes = {f"t{i:06d}": (LOCATIONS[i % 8], "trial" if i % 10 < 4 else "standard")
               for i in range(count)}
    now = datetime.now(UTC)
    started = time.perf_counter()
    rollout_id = service.start(
        registry, release_id, Strategy.parse(bake="0", ignore_windows=True),
        planner=ClassChanges(classes), actor="bench", reason="", approve_dangerous=None, now=now,
    )
    start_s = time.perf_counter() - started
    driver = Driver(store.RegistryStore(registry))
    tick_s = record_s = 0.0
    ticks = 0
    while True:
        t0 = time.perf_counter()
        driver.tick(now)
        tick_s += time.perf_counter() - t0
        ticks += 1
        if store.get_rollout(registry, rollout_id).state != ctl.RUNNING:
            break
        with registry.read() as conn:
            targeted = conn.execute(sa.select(rollout_tenants.c.slug).where(
                rollout_tenants.c.rollout_id == rollout_id,
                rollout_tenants.c.status == ctl.TARGETED)).scalars().all()
        t0 = time.perf_counter()
        # What a worker adds to the transaction it records each tenant in anyway (the commit
        # is the worker's own, measured by worker_drain.py): the statements alone.
        with registry.write() as conn:
            for slug in targeted:
                store.record_outcome(conn, slug, release_id, None, now)
        record_s += time.perf_counter() - t0
    summary = store.get_rollout(registry, rollout_id)
    assert summary.state == ctl.COMPLETED and summary.counts[ctl.HEALTHY] == count, summary
    return {
        "start_ms": start_s / count * 1000,
        "tick_ms": tick_s / count * 1000,
        "record_ms": record_s / count * 1000,
        "total_ms": (start_s + tick_s + record_s) / count * 1000,
        "ticks": ticks,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"rollout controller overhead, {args.tenants} tenants, {args.runs} runs; medians,"
          " ms per tenant")
    for backend in backends():
        runs = []
        with database(backend) as url, Registry.open(url) as registry:
            seed(registry, args.tenants)  # once; each run moves the whole fleet to a new release
            for n in range(args.runs):
                base = baseline(registry, args.tenants)
                release_id = new_release(registry, n + 2)
                runs.append({**rollout(registry, release_id, args.tenants), "baseline_ms": base})
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        print(
            f"{backend:10s} controller {med['total_ms']:.3f} ms/tenant (start"
            f" {med['start_ms']:.3f}, ticks {med['tick_ms']:.3f} over {med['ticks']:.0f} ticks,"
            f" worker-side record {med['record_ms']:.3f}) | baseline bare UPDATE transaction"
            f" {med['baseline_ms']:.3f} ms/tenant",
            flush=True,
        )

if __name__ == "__main__":
    main()
