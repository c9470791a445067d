"""Benchmark: how long an offline plan takes (run by hand, not collected by pytest).

    .venv/bin/python tests/benchmarks/plan_speed.py [--runs 7] [--tenants 100]

Prints, side by side in one run:
- cold `provisioner plan demo --location de --plan trial --output json` processes, against the
  bare cost of starting Python and importing pulumi and the pulumi_aws modules the program uses;
- per-tenant time when planning N tenants in one process (after the first), against the bare
  cost of constructing the same number of plain Python objects (the floor is ~0).
Medians over several runs.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
# pulumi_aws loads a submodule on first access to one of its names: touch one class in each
# module the program uses, as the program does (`__dict__` alone does not load it).
USED_CLASSES = [
    "ec2.Vpc", "rds.Instance", "lb.Listener", "s3.Bucket", "kms.Key", "iam.Role", "backup.Vault",
    "cloudwatch.LogGroup", "acm.Certificate", "route53.Record", "ebs.Volume", "wafv2.WebAcl",
    "ssm.Document", "lambda_.Function",
]  # fmt: skip
BARE_IMPORT = "import pulumi, pulumi_aws as aws\n" + "\n".join(f"aws.{c}" for c in USED_CLASSES)


def _time_process(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    return time.perf_counter() - start


def cold(runs: int) -> tuple[list[float], list[float]]:
    plan_cmd = [PYTHON, "-m", "provisioner", "plan", "demo", "--location", "de",
                "--plan", "trial", "--output", "json"]  # fmt: skip
    bare_cmd = [PYTHON, "-c", BARE_IMPORT]
    plans, bares = [], []
    for _ in range(runs):  # interleaved, so load on the machine hits both alike
        plans.append(_time_process(plan_cmd))
        bares.append(_time_process(bare_cmd))
    return plans, bares


def in_process(tenants: int, runs: int) -> list[float]:
    script = f"""
import time, statistics
from provisioner.plans import PLANS
from provisioner.regions import LOCATION_CODES
from provisioner.spec import TenantSpec
from provisioner.synth import synth_plan
synth_plan(TenantSpec.create("warmup", "de", "trial"))
start = time.perf_counter()
for i in range({tenants}):
    loc = LOCATION_CODES[i % len(LOCATION_CODES)]
    plan = list(PLANS)[i % len(PLANS)]
    synth_plan(TenantSpec.create(f"tenant{{i:05d}}", loc, plan))
print((time.perf_counter() - start) / {tenants})
"""
    per_tenant = []
    for _ in range(runs):
        out = subprocess.run([PYTHON, "-c", script], check=True, capture_output=True, text=True,
                             cwd=ROOT).stdout  # fmt: skip
        per_tenant.append(float(out.strip()))
    return per_tenant


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--in-process-runs", type=int, default=3)
    args = parser.parse_args()

    plans, bares = cold(args.runs)
    per_tenant = in_process(args.tenants, args.in_process_runs)
    ms = 1000.0
    print(f"{'measure':58} {'median':>10} {'min':>10} {'max':>10}")
    rows = [
        ("cold `provisioner plan demo -l de -p trial -o json` (s)", plans, 1.0),
        ("baseline: python -c 'import pulumi + used pulumi_aws' (s)", bares, 1.0),
        (f"per tenant, {args.tenants} tenants in one process (ms)", per_tenant, ms),
    ]
    for label, values, scale in rows:
        print(f"{label:58} {statistics.median(values) * scale:10.3f} "
              f"{min(values) * scale:10.3f} {max(values) * scale:10.3f}")  # fmt: skip
    gap = statistics.median(plans) - statistics.median(bares)
    print(f"cold plan minus baseline import: {gap:.3f} s ({args.runs} runs each, interleaved)")


if __name__ == "__main__":
    main()
