"""Benchmark: who an incident affects, over 100,000 tenants, on SQLite and on PostgreSQL.

    .venv/bin/python tests/benchmarks/incident_affected.py [--tenants 100000] [--runs 5]

The fleet is retention_plan.py's (four locations, a quarter of it in Frankfurt, some deleted).
Printed side by side, medians of `--runs`:

- baseline: `SELECT count(*) FROM tenants`;
- histories: every tenant's slug, location, region, plan, created and deleted dates read (the
  registry's side of the affected set);
- affected: the pure computation over those histories (eu-central-1, a 30-day window);
- open: `incident open` as the registry runs it (read, compute, store the set in the first
  timeline entry, hash it), and how many tenants it found;
- show: the incident's document (affected set parsed back, deadlines, chain verified).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from provisioner.incidents.affected import Window, affected  # noqa: E402
from provisioner.incidents.view import document  # noqa: E402
from provisioner.regions import catalogue  # noqa: E402
from provisioner.registry import Registry  # noqa: E402
from provisioner.registry import incidents as store  # noqa: E402
from provisioner.registry.models import tenants  # noqa: E402
from tests.benchmarks._databases import backends, database  # noqa: E402
from tests.benchmarks.retention_plan import fleet, load, median_times  # noqa: E402

FOUND = datetime(2026, 11, 20, tzinfo=UTC)
START = datetime(2026, 10, 20, tzinfo=UTC)


def measure(url: str, runs: int) -> dict[str, float]:
    cat = catalogue()
    new = store.NewIncident("bench", "breach", FOUND, ("eu-central-1",), (), START, FOUND, False)
    with Registry.open(url) as reg:

        def count() -> int:
            with reg.read() as conn:
                return int(conn.execute(sa.select(sa.func.count()).select_from(tenants)).scalar())

        def read() -> list[store.affected_mod.TenantHistory]:
            with reg.read() as conn:
                return store.histories(conn)

        history = read()
        out: dict[str, float] = {}
        out["baseline"], _, _ = median_times(count, runs)
        out["histories"], _, _ = median_times(read, runs)
        out["affected"], _, _ = median_times(
            lambda: affected(history, cat, ("eu-central-1",), Window(START, FOUND)), runs
        )
        out["open"], _, (incident, found) = median_times(
            lambda: store.open_incident(reg, new, cat, actor="bench", at=FOUND), runs
        )
        out["found"] = len(found)
        out["show"], _, _ = median_times(lambda: document(reg, incident.id, FOUND), runs)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    rows, bills = fleet(args.tenants)
    columns = ("baseline", "histories", "affected", "open", "show")
    print(f"{'database':<12}{'tenants':>9}{'found':>8}" + "".join(f"{c:>11}" for c in columns))
    for backend in backends():
        with database(backend) as url:
            load(url, rows, bills)
            m = measure(url, args.runs)
        print(f"{backend:<12}{args.tenants:>9}{int(m['found']):>8}"
              + "".join(f"{m[c]:>10.3f}s" for c in columns))  # fmt: skip


if __name__ == "__main__":
    main()
