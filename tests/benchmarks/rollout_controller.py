"""Rollout controller overhead per tenant: 10,000 built tenants moved to a new release by the
real driver over the registry, with an instant engine (each targeted tenant is reported applied
at once, in its own transaction, exactly as a worker records it). All the time measured is the
rollout's own: the driver's ticks (reading the wave, targeting, verifying, baking, advancing)
and the worker-side recording of each tenant's release. Baseline in the same run: one bare
single-row UPDATE transaction per tenant on the same database.

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


def seed(registry: Registry, count: int) -> tuple[int, int]:
    now = datetime.now(UTC)
    with registry.write() as conn:
        reg = bound(registry, conn)
        for i in range(count):
            plan = "trial" if i % 10 < 4 else "standard"
            reg.create_tenant(TenantSpec.create(f"t{i:06d}", LOCATIONS[i % 8], plan), actor="b")
    r1, _ = create_release(registry, commit="1" * 40, program_hash="h1", ref="v1", notes="",
                           actor="bench", now=now)
    r2, _ = create_release(registry, commit="2" * 40, program_hash="h2", ref="v2", notes="",
                           actor="bench", now=now)
    with registry.write() as conn:  # every stack built and on release 1
        conn.execute(sa.update(tenants).values(
            observed_state="active", observed_generation=tenants.c.generation,
            observed_plan=tenants.c.plan, release_id=r1.id, target_release_id=r1.id))
    return r1.id, r2.id


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
        for slug in targeted:  # what the worker adds to its recording transaction
            with registry.write() as conn:
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
        for _ in range(args.runs):
            with database(backend) as url, Registry.open(url) as registry:
                _, r2 = seed(registry, args.tenants)
                base = baseline(registry, args.tenants)
                runs.append({**rollout(registry, r2, args.tenants), "baseline_ms": base})
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        print(
            f"{backend:10s} controller {med['total_ms']:.3f} ms/tenant (start"
            f" {med['start_ms']:.3f}, ticks {med['tick_ms']:.3f} over {med['ticks']:.0f} ticks,"
            f" worker-side record {med['record_ms']:.3f}) | baseline bare UPDATE transaction"
            f" {med['baseline_ms']:.3f} ms/tenant"
        )


if __name__ == "__main__":
    main()
