"""Benchmark: `provisioner fleet plan` over N tenants after a one-line program change.

    .venv/bin/python tests/benchmarks/fleet_plan.py [--tenants 10000] [--runs 3] [--jobs N]

Builds a temporary git repository (this checkout's program files plus a tenants.yaml of N
tenants spread over all eight locations and four plans), commits it, changes one line of the
app server's user data template, and times the whole CLI (`python -m provisioner fleet plan
--base HEAD -o json`, process start included, as CI runs it):

- cold: an empty plan cache (every run gets a fresh one), both revisions planned;
- warm: the same comparison again with the cache of a cold run (nothing changed since);
- warm, no program change: the change reverted, cache kept.

Baseline, side by side: planning tenants one by one in one process without any cache
(`synth_plan` in a loop) on a sample, extrapolated to N tenants x 2 revisions.
Targets (issue 12, 10,000 tenants on 2 cores): cold < 30 s, warm < 3 s. Medians of --runs runs,
each with the peak resident memory of the largest process of the run (the CLI, a planning
process or a forked worker: `wait4`'s maximum RSS over the CLI and its descendants), and the
load average before and after (other work on the machine slows every figure).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOCATIONS = ("us", "uk", "ie", "de", "au", "sg", "jp", "in")
PLANS = ("trial", "free", "standard", "enterprise")
GIT = ["git", "-c", "user.name=bench", "-c", "user.email=bench@invalid", "-c",
       "commit.gpgsign=false"]
OLD_LINE, NEW_LINE = "mkdir -p /srv/crm\n", "mkdir -p /srv/crm /srv/bench\n"


def make_repo(path: Path, tenants: int) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("provisioner", "stacks", "templates"):
        shutil.copytree(ROOT / name, path / name, ignore=ignore)
    shutil.copy2(ROOT / "regions.yaml", path / "regions.yaml")
    lines = ["tenants:"]
    for i in range(tenants):
        lines.append(f"  - {{slug: tenant{i:04d}, location: {LOCATIONS[i % 8]},"
                     f" plan: {PLANS[(i // 8) % 4]}}}")
    (path / "tenants.yaml").write_text("\n".join(lines) + "\n")
    subprocess.run([*GIT, "init", "-q", str(path)], check=True)
    subprocess.run([*GIT, "-C", str(path), "add", "-A"], check=True)  # our own temporary repo
    subprocess.run([*GIT, "-C", str(path), "commit", "-q", "-m", "base"], check=True)


def set_change(repo: Path, changed: bool) -> None:
    path = repo / "templates/user_data.sh.j2"
    text = path.read_text()
    old, new = (OLD_LINE, NEW_LINE) if changed else (NEW_LINE, OLD_LINE)
    if old in text:
        path.write_text(text.replace(old, new, 1))


def fleet_plan(repo: Path, cache: Path, jobs: int) -> tuple[float, float, float]:
    """Wall seconds, peak memory (MiB) and CPU seconds of one `fleet plan` run."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "provisioner", "fleet", "plan", "--base", "HEAD", "--repo",
             str(repo), "--cache-dir", str(cache), "--jobs", str(jobs), "-o", "json"],
            stdout=out, stderr=err,
            # The driver runs from the repository's snapshot too (as in CI, where the checkout
            # is the installed code), so edits to the shared checkout during a run change nothing.
            cwd=repo, env={**os.environ, "PYTHONPATH": str(repo)},
        )
        # wait4's usage covers the child and every descendant it waited for; ru_maxrss is the
        # largest of them (KiB on Linux).
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read()
    if proc.returncode != 0:
        raise SystemExit(f"fleet plan failed ({proc.returncode}): {stderr[-2000:]}")
    peak = usage.ru_maxrss / 1024
    cpu = usage.ru_utime + usage.ru_stime  # the CLI and every process it waited for
    print(f"    {seconds:6.2f}s  {cpu:6.1f} CPU-s  {peak:5.0f} MiB"
          f"  {stderr.strip().splitlines()[-1]}", flush=True)
    return seconds, peak, cpu


def serial_baseline(sample: int) -> float:
    """Seconds per tenant plan, serially, one process, no cache (imports and warm-up excluded)."""
    code = (
        "import time,sys\n"
        "from provisioner.spec import TenantSpec\nfrom provisioner.synth import synth_plan\n"
        f"L={LOCATIONS!r}; P={PLANS!r}\n"
        "synth_plan(TenantSpec.create('warmup', 'de', 'standard'))\n"
        f"specs=[TenantSpec.create(f'base{{i:04d}}', L[i%8], P[(i//8)%4])"
        f" for i in range({sample})]\n"
        "t=time.perf_counter()\n"
        "for s in specs: synth_plan(s)\n"
        "print((time.perf_counter()-t)/len(specs))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--sample", type=int, default=24, help="baseline sample size")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fleet-bench-") as tmp:
        repo = Path(tmp) / "repo"
        make_repo(repo, args.tenants)
        set_change(repo, True)
        load_before = os.getloadavg()
        print(f"{args.tenants} tenants, {len(LOCATIONS)} locations, {len(PLANS)} plans,"
              f" jobs={args.jobs}, {os.cpu_count()} CPUs, load average"
              f" {' '.join(f'{x:.2f}' for x in load_before)}", flush=True)
        cold: list[tuple[float, float, float]] = []
        warm: list[tuple[float, float, float]] = []
        same: list[tuple[float, float, float]] = []
        for run in range(args.runs):
            cache = Path(tmp) / f"cache-{run}"
            print(f"  run {run + 1}: cold", flush=True)
            set_change(repo, True)
            cold.append(fleet_plan(repo, cache, args.jobs))
            print(f"  run {run + 1}: warm (nothing changed since)", flush=True)
            warm.append(fleet_plan(repo, cache, args.jobs))
            print(f"  run {run + 1}: warm, change reverted (no program change)", flush=True)
            set_change(repo, False)
            same.append(fleet_plan(repo, cache, args.jobs))
        per_plan = serial_baseline(args.sample)
    serial = per_plan * args.tenants * 2
    load_after = os.getloadavg()

    def row(label: str, runs: list[tuple[float, float, float]], target: str) -> None:
        seconds = statistics.median(r[0] for r in runs)
        peak = max(r[1] for r in runs)
        cpu = statistics.median(r[2] for r in runs)
        print(f"{label:42} {seconds:8.2f}s {target:>8} {peak:8.0f} MiB {cpu:8.1f} CPU-s")

    print()
    # CPU seconds do not depend on what else runs: on idle cores a run takes at least
    # CPU-s / jobs, and at most about CPU-s (a serial part).
    print(f"{'':42} {'median':>9} {'target':>8} {'peak memory':>12} {'CPU':>10}")
    row("fleet plan, cold (empty cache)", cold, "< 30s")
    row("fleet plan, warm rerun", warm, "< 3s")
    row("fleet plan, warm, no program change", same, "< 3s")
    print(f"{'baseline: serial, no cache (extrapolated)':42} {serial:8.1f}s"
          f"   ({per_plan * 1000:.0f} ms/plan x {args.tenants} tenants x 2 revisions,"
          f" sample of {args.sample})")
    print(f"load average before {' '.join(f'{x:.2f}' for x in load_before)},"
          f" after {' '.join(f'{x:.2f}' for x in load_after)}")


if __name__ == "__main__":
    main()
