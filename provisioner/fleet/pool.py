"""Planning many specs in parallel processes, each running the code of one revision.

Pulumi's mock runtime is not thread-safe (two threads deadlock), so parallelism is processes:
at most `jobs` batch processes at a time (`provisioner.fleet.batch`), each planning a chunk of
specs one after another. A process runs with its revision's root first on `sys.path` and
setuptools' editable-install finder removed, so only that revision's code can be imported; the
batch reports which `provisioner/synth.py` it ran and the pool checks it is the revision's.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from provisioner.errors import EnvironmentProblem
from provisioner.fleet.cache import PlanCache

# Started with `python -c BOOTSTRAP ROOT FALLBACK --in F --out F`. Runs the revision's own batch
# entry point if it has one, else this driver's batch.py file over the revision's planner.
BOOTSTRAP = r"""
import os, runpy, sys
root, fallback = sys.argv[1], sys.argv[2]
sys.argv = ["provisioner.fleet.batch", *sys.argv[3:]]
sys.meta_path[:] = [f for f in sys.meta_path
                    if not str(getattr(f, "__module__", "")).startswith("__editable__")]
sys.path.insert(0, root)
if os.path.isfile(os.path.join(root, "provisioner", "fleet", "batch.py")):
    runpy.run_module("provisioner.fleet.batch", run_name="__main__", alter_sys=True)
else:
    runpy.run_path(fallback, run_name="__main__")
"""
FALLBACK_BATCH = Path(__file__).with_name("batch.py")
MIN_CHUNK = 6  # specs per process at least: starting one costs ~1.5 s of imports and warm-up

PlanResult = dict[str, Any]  # {"plan": {...}} or {"kind": "invalid"|"failed", "error": "..."}


@dataclass
class Site:
    """Where one revision's code lives, materialised (a worktree) only when a plan is missing."""

    label: str  # "base" or "head", for messages
    description: str  # "origin/main (1a2b3c4d5e6f)" or "the working tree"
    program_hash: str
    open_root: Callable[[], Path]
    notices: list[str] = field(default_factory=list)
    _root: Path | None = None

    def root(self) -> Path:
        if self._root is None:
            root = self.open_root()
            if not (root / "provisioner" / "synth.py").is_file():
                raise EnvironmentProblem(
                    f"{self.description} has no provisioner/synth.py, so it cannot be planned"
                    " offline: choose a base revision that has the offline planner"
                )
            if not (root / "provisioner" / "fleet" / "batch.py").is_file():
                self.notices.append(
                    f"{self.description} predates the fleet batch entry point: planned with"
                    " this revision's batch driver over its own provisioner/synth.py"
                )
            self._root = root
        return self._root


def subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    # Each revision plans with its own regions.yaml (a program source), never an override.
    env.pop("PROVISIONER_REGIONS_FILE", None)
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # leave no __pycache__ behind in a worktree
    env["PYTHONHASHSEED"] = "0"
    return env


def chunked(items: list[Any], jobs: int) -> list[list[Any]]:
    """At most `jobs` chunks of at least MIN_CHUNK items (fewer processes for small batches)."""
    if not items:
        return []
    count = max(1, min(jobs, math.ceil(len(items) / MIN_CHUNK)))
    size = math.ceil(len(items) / count)
    return [items[i : i + size] for i in range(0, len(items), size)]


class PlanPool:
    """Plans specs at sites through the cache and at most `jobs` processes at a time."""

    def __init__(
        self,
        cache: PlanCache,
        jobs: int,
        python: str = sys.executable,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> None:
        self.cache = cache
        self.jobs = max(1, jobs)
        self.python = python
        self.on_progress = on_progress
        self.planned = 0  # specs actually run through the program (cache misses)

    def plan(self, requests: list[tuple[Site, dict[str, str]]]) -> list[PlanResult]:
        """One result per request, in order; cached ones cost a file read."""
        results: list[PlanResult | None] = [None] * len(requests)
        missing: dict[int, list[tuple[int, dict[str, str]]]] = {}
        sites: dict[int, Site] = {}
        seen: dict[tuple[int, str], int] = {}
        duplicates: list[tuple[int, int]] = []
        for i, (site, spec) in enumerate(requests):
            key = PlanCache.plan_key(site.program_hash, spec)
            if (id(site), key) in seen:
                duplicates.append((i, seen[(id(site), key)]))
                continue
            seen[(id(site), key)] = i
            cached = self.cache.get("plans", key)
            if cached is not None:
                results[i] = cached
            else:
                sites[id(site)] = site
                missing.setdefault(id(site), []).append((i, spec))
        # The processes are shared out between the sites in proportion to their work, so two
        # sides on two cores start two processes, not four (each start costs ~1.5 s of CPU).
        pending = sum(len(items) for items in missing.values())
        tasks = [
            (sites[sid], chunk)
            for sid, items in missing.items()
            for chunk in chunked(items, max(1, round(self.jobs * len(items) / pending)))
        ]
        total = sum(len(chunk) for _, chunk in tasks)
        done = 0
        if tasks:
            for site, _ in tasks:
                site.root()  # create worktrees here, in this thread, before the workers start
            tasks.sort(key=lambda t: -len(t[1]))  # longest first: the pool drains evenly
            with ThreadPoolExecutor(max_workers=min(self.jobs, len(tasks))) as executor:
                futures = [executor.submit(self._run_chunk, site, chunk) for site, chunk in tasks]
                for (site, chunk), future in zip(tasks, futures, strict=True):
                    for (i, spec), result in zip(chunk, future.result(), strict=True):
                        results[i] = result
                        if "plan" in result or result.get("kind") == "invalid":
                            # a program that raised is not cached: it may be the machine's fault
                            key = PlanCache.plan_key(site.program_hash, spec)
                            self.cache.put("plans", key, result)
                    done += len(chunk)
                    self.planned += len(chunk)
                    if self.on_progress:
                        self.on_progress(done, total)
        for i, first in duplicates:
            results[i] = results[first]
        return [r if r is not None else {"kind": "failed", "error": "not planned"} for r in results]

    def _run_chunk(self, site: Site, chunk: list[tuple[int, dict[str, str]]]) -> list[PlanResult]:
        root = site.root()
        with tempfile.TemporaryDirectory(prefix="provisioner-fleet-batch-") as tmp:
            inp, out = Path(tmp) / "specs.json", Path(tmp) / "plans.jsonl"
            inp.write_text(json.dumps({"specs": [spec for _, spec in chunk]}), encoding="utf-8")
            proc = subprocess.run(
                [self.python, "-c", BOOTSTRAP, str(root), str(FALLBACK_BATCH),
                 "--in", str(inp), "--out", str(out)],
                cwd=root,
                env=subprocess_env(),
                capture_output=True,
                text=True,
                check=False,
            )
            lines = out.read_text(encoding="utf-8").splitlines() if out.exists() else []
        if proc.returncode != 0 or not lines:
            tail = [line for line in (proc.stderr or "").strip().splitlines() if line.strip()]
            raise EnvironmentProblem(
                f"planning at {site.description} failed (exit {proc.returncode}):"
                f" {tail[-1] if tail else 'no output'}; run 'python -m provisioner.fleet.batch'"
                " there to see the whole error"
            )
        header = json.loads(lines[0]).get("header", {})
        synth = Path(str(header.get("synth", ""))).resolve()
        if root.resolve() not in synth.parents:
            raise EnvironmentProblem(
                f"planning at {site.description} ran {synth} instead of that revision's code:"
                " is another copy of provisioner first on PYTHONPATH?"
            )
        by_index: dict[int, PlanResult] = {}
        for line in lines[1:]:
            row = json.loads(line)
            index = int(row.pop("index"))
            if "error" in row:  # an older revision's batch may name its temporary worktree
                row["error"] = str(row["error"]).replace(f"{root}{os.sep}", "")
            by_index[index] = row
        return [
            by_index.get(i, {"kind": "failed", "error": "the batch process stopped early"})
            for i in range(len(chunk))
        ]
