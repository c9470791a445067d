"""Simulated rollout of 10,000 tenants over the 8 regions (region cap 20, updates 4-8 minutes,
bake 30 minutes, default waves) with the real controller: the virtual duration; then the same
with failures injected: where it halts, and how many tenants received the bad release beside
the wave's error budget. Also the wall time the simulation itself takes (median of runs),
beside the time to build the synthetic fleet and its waves (the part every run shares).

    .venv/bin/python tests/benchmarks/rollout_simulate.py [--tenants 10000] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from provisioner.rollout.simulate import SimulationOptions, class_groups, simulate, synthetic_fleet
from provisioner.rollout.strategy import Strategy, plan_waves

SCENARIOS = (
    ("no failures", 0.0, "0"),
    ("bad release (every update fails), budget 0", 1.0, "0"),
    ("flaky release (3% of updates fail), budget 2%", 0.03, "2%"),
)


def run(count: int, failure_rate: float, budget: str, seed: int) -> tuple[dict[str, Any], float]:
    fleet = synthetic_fleet(count, seed)
    strategy = Strategy.parse(bake="30m", error_budget=budget, in_flight=20, ignore_windows=True)
    options = SimulationOptions(strategy, failure_rate, (4.0, 8.0), 20, seed)
    started = time.perf_counter()
    result = simulate(fleet, class_groups(fleet), options)
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    fleet = synthetic_fleet(args.tenants, 0)
    started = time.perf_counter()
    waves = plan_waves([t.candidate() for t in fleet], class_groups(fleet), Strategy.parse())
    base = time.perf_counter() - started
    print(f"simulated rollout, {args.tenants} tenants, 8 regions, cap 20, updates 4-8 min,"
          f" bake 30 min, default waves ({len(waves)} waves); {args.runs} runs (seeds 0..)")
    print(f"baseline: planning the waves alone {base * 1000:.0f} ms")
    for name, rate, budget in SCENARIOS:
        results = [run(args.tenants, rate, budget, seed) for seed in range(args.runs)]
        wall = statistics.median(w for _, w in results)
        first = results[0][0]
        hours = statistics.median(r["duration_s"] for r, _ in results) / 3600
        line = f"{name}: {hours:.1f} h virtual (median), simulated in {wall:.2f} s wall"
        if first["halted"]:
            halted = [(r["halted_in_wave"], r["received"],
                       next(w["budget"] for w in r["waves"] if w["name"] == r["halted_in_wave"]),
                       next(w["failed"] for w in r["waves"] if w["name"] == r["halted_in_wave"]))
                      for r, _ in results]
            line += "; halted " + "; ".join(
                f"in wave {wave!r} ({failed} failed > budget {allowed}), {received} tenants"
                " received the release" for wave, received, allowed, failed in halted)
        else:
            line += f"; {first['updated']} updated"
        print(line)


if __name__ == "__main__":
    main()
