"""Warm pools, simulated: signup-to-ready at 60 signups/hour in one location, builds of 10-20
minutes and a 45-second bind, with the recommended pool against no pool (every signup a cold
build) in the same run, and the idle instance-hours the pool costs.

    .venv/bin/python tests/benchmarks/pool_simulation.py [--seeds 5] [--hours 8] [--rate 60]

Runs `provisioner.pools.simulate` (the real signup claim and pool refill on a virtual clock,
Poisson arrivals) once per seed and configuration; prints medians over the seeds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from provisioner.pools.simulate import SimulationConfig, simulate
from provisioner.pools.sizing import recommend

FIELDS = ("signups", "pooled", "cold", "p50_ready_s", "p95_ready_s", "p99_ready_s",
          "idle_instance_hours")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--hours", type=float, default=8.0)
    parser.add_argument("--rate", type=float, default=60.0, help="signups per hour")
    args = parser.parse_args()
    advice = recommend(args.rate, 15.0, 0.01)
    print(
        f"{args.rate:g} signups/hour for {args.hours:g} h, builds 10-20 min, bind 45 s;"
        f" recommended pool {advice.size} (P(cold) <= {advice.cold_bound:.4f});"
        f" medians over {args.seeds} seeds"
    )
    print(f"{'pool':<18}" + "".join(f"{f:>20}" for f in FIELDS) + f"{'wall s':>9}")
    for label, size in (("none (cold)", 0), (f"recommended ({advice.size})", None)):
        runs, walls = [], []
        for seed in range(1, args.seeds + 1):
            started = time.perf_counter()
            result = simulate(
                SimulationConfig(args.rate, hours=args.hours, pool_size=size, seed=seed)
            ).to_dict()
            walls.append(time.perf_counter() - started)
            runs.append(result)
        medians = {f: statistics.median(float(r[f]) for r in runs) for f in FIELDS}
        print(
            f"{label:<18}"
            + "".join(f"{medians[f]:>20.1f}" for f in FIELDS)
            + f"{statistics.median(walls):>9.1f}"
        )


if __name__ == "__main__":
    main()
