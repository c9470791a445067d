"""How long pricing takes (run by hand, not collected by pytest):

    .venv/bin/python tests/benchmarks/cost_speed.py

1. `estimate_plan(plan)` of an enterprise tenant's real plan, beside its baseline: a JSON round
   trip of the same plan (what merely reading it once costs).
2. `tenant_cost(base, head)`: what the fleet preview adds per changed tenant (two estimates).
Medians over several runs of 200 calls each.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from provisioner.cost.delta import default_pricing, tenant_cost  # noqa: E402
from provisioner.cost.estimate import estimate_plan  # noqa: E402
from provisioner.cost.fleet import synth_plan_of  # noqa: E402

CALLS = 200
RUNS = 7


def median_ms_per_call(fn: Callable[[], object]) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        for _ in range(CALLS):
            fn()
        times.append((time.perf_counter() - start) * 1000 / CALLS)
    return statistics.median(times)


def main() -> None:
    plan = synth_plan_of("bench", "de", "enterprise")
    snapshot, book = default_pricing()
    usage = book.for_plan("enterprise")
    text = json.dumps(plan)
    baseline = median_ms_per_call(lambda: json.loads(text))
    estimate = median_ms_per_call(lambda: estimate_plan(plan, snapshot, usage))
    delta = median_ms_per_call(lambda: tenant_cost(plan, plan, "enterprise", "enterprise"))
    print(f"plan: {len(plan['resources'])} resources; medians of {RUNS} runs x {CALLS} calls")
    print(f"baseline json.loads of the plan: {baseline:.3f} ms")
    print(f"estimate_plan:                   {estimate:.3f} ms")
    print(f"tenant_cost (two estimates):     {delta:.3f} ms")


if __name__ == "__main__":
    main()
