"""How long the security baseline takes (run by hand, not collected by pytest):

    .venv/bin/python tests/benchmarks/policy_speed.py

1. `evaluate(plan)` on a real plan (all rules), beside its baseline: building the graph alone.
2. A cold `provisioner check --plan-file plan.json` process, beside a cold `provisioner --help`
   (the CLI's start-up cost), so the check's own share is visible.
Medians over several runs.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from provisioner.policy import evaluate  # noqa: E402
from provisioner.policy.graph import Graph  # noqa: E402
from provisioner.spec import TenantSpec  # noqa: E402
from provisioner.synth import synth_plan  # noqa: E402


def median_ms(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    plan = synth_plan(TenantSpec.create("bench", "de", "enterprise"))
    evaluate(plan)  # warm: rule modules imported, tag lookups cached
    graph_ms = median_ms(lambda: Graph.from_plan(plan), 50)
    eval_ms = median_ms(lambda: evaluate(plan), 50)
    print(f"{len(plan['resources'])} resources")
    print(f"graph only (baseline)      median {graph_ms:7.2f} ms over 50 runs")
    print(f"evaluate, all rules        median {eval_ms:7.2f} ms over 50 runs")

    exe = str(ROOT / ".venv" / "bin" / "provisioner")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "plan.json"
        path.write_text(json.dumps(plan), encoding="utf-8")
        help_ms = median_ms(lambda: subprocess.run([exe, "--help"], capture_output=True,
                                                   check=True), 5)
        check_ms = median_ms(lambda: subprocess.run([exe, "check", "--plan-file", str(path)],
                                                    capture_output=True, check=True), 5)
    print(f"cold `provisioner --help`  median {help_ms:7.0f} ms over 5 runs (baseline)")
    print(f"cold `check --plan-file`   median {check_ms:7.0f} ms over 5 runs")


if __name__ == "__main__":
    main()
