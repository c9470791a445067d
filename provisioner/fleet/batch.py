"""Batch entry point: plan many tenant specs in one process and write the plans as JSON.

    python -m provisioner.fleet.batch --in specs.json --out plans.jsonl

`specs.json` is `{"specs": [{"slug": ..., "location": ..., "plan": ...}, ...]}`; each line of
`plans.jsonl` is `{"index": i, "plan": {...}}` or `{"index": i, "error": "...", "kind": ...}`
(kind `invalid`: the spec does not validate at this revision; `failed`: the program raised).

The fleet planner runs this inside a worktree of the base revision (and in the working tree),
so the code that plans is the code of that revision. Keep it self-contained: only the standard
library, `provisioner.spec` and `provisioner.synth` (the stable planning contract), so a newer
driver can run this very file over an older revision's planner when that revision predates it.
One process plans one spec after another: Pulumi's mock runtime is not thread-safe.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import sys
import traceback
from typing import Any

BATCH_FORMAT = 1  # bump when the line format changes


def _shown_path(filename: str) -> str:
    """A source path as a reviewer can use it: relative to the revision (the current directory)
    or to the import root it came from, never the runner's absolute path."""
    path = os.path.abspath(filename)
    roots = sorted({os.path.abspath(p) for p in [os.getcwd(), *sys.path] if p}, key=len,
                   reverse=True)
    for root in roots:
        if path.startswith(root + os.sep):
            return os.path.relpath(path, root)
    return os.path.basename(path)


def plan_specs(specs: list[dict[str, Any]], out: Any) -> None:
    """Plan each spec, writing one JSON line per spec as soon as it is planned."""
    from provisioner.spec import TenantSpec
    from provisioner.synth import synth_plan

    try:
        from provisioner.errors import UsageError
    except ImportError:  # pragma: no cover - every revision so far has it
        UsageError = ValueError  # type: ignore[misc,assignment]

    for index, raw in enumerate(specs):
        line: dict[str, Any] = {"index": index}
        try:
            spec = TenantSpec.create(str(raw["slug"]), str(raw["location"]), str(raw["plan"]))
            if raw.get("instance_id"):  # a tenant bound to a warm-pool instance; a revision
                # before instance ids has no such argument (its names come from the slug)
                with contextlib.suppress(TypeError):
                    spec = TenantSpec.create(
                        spec.slug, spec.location.code, spec.plan.name,
                        instance_id=str(raw["instance_id"]),
                    )  # fmt: skip
            if raw.get("legacy_backup"):  # keeps its pre-backup-account copy; a revision
                # before the backup account has no such field (that copy is all it knows)
                with contextlib.suppress(TypeError):
                    spec = dataclasses.replace(spec, legacy_backup=True)
        except (UsageError, KeyError, ValueError) as exc:
            line.update(kind="invalid", error=str(exc))
        else:
            try:
                line["plan"] = synth_plan(spec)
            except Exception as exc:  # reported per tenant, the batch goes on
                last = traceback.extract_tb(exc.__traceback__)[-1:]
                where = f" at {_shown_path(last[0].filename)}:{last[0].lineno}" if last else ""
                line.update(kind="failed", error=f"{type(exc).__name__}: {exc}{where}")
        out.write(json.dumps(line, sort_keys=True) + "\n")
        out.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="provisioner.fleet.batch", description=__doc__)
    parser.add_argument("--in", dest="inp", required=True, help="specs JSON file")
    parser.add_argument("--out", required=True, help="plans JSON-lines file (written)")
    args = parser.parse_args(argv)
    with open(args.inp, encoding="utf-8") as handle:
        request = json.load(handle)
    import provisioner.synth

    with open(args.out, "w", encoding="utf-8") as out:
        header = {"format": BATCH_FORMAT, "synth": provisioner.synth.__file__}
        out.write(json.dumps({"header": header}, sort_keys=True) + "\n")
        plan_specs(list(request["specs"]), out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
