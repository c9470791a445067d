"""Batch entry point: plan every location's platform stack (stacks/region) of one revision.

    python -m provisioner.fleet.region_batch --out regions.json

Writes `{"header": {...}, "locations": {code: {"plan": {...}} | {"error": "..."}}}`, or
`{"header": {...}, "absent": "why"}` when the revision has no regional platform stack yet.
Every location of the revision's own regions.yaml is planned, with the alert subscriptions that
revision configures (regions.yaml's `alerts`), so what a pull request changes in either shows.

The fleet planner runs this inside a worktree of the base revision (and in the working tree),
so the code that plans is that revision's. Like `provisioner.fleet.batch` it stays
self-contained (the standard library, `provisioner.regions`, `provisioner.region_spec` and
`provisioner.region_plan`), so a newer driver can run this file over an older revision.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from typing import Any

REGION_BATCH_FORMAT = 1  # bump when the output changes


def plan_locations() -> dict[str, Any]:
    """Every location's plan (or its error), or why the revision has no regional stack."""
    try:
        from provisioner.region_plan import plan_region
        from provisioner.region_spec import RegionSpec
    except ImportError as exc:
        return {"absent": f"no regional platform stack at this revision ({exc})"}
    from provisioner.regions import catalogue

    configured = getattr(RegionSpec, "configured", None)  # a revision before `alerts` has none
    found: dict[str, Any] = {}
    for code in sorted(catalogue().locations):
        try:
            spec = configured(code) if configured else RegionSpec.create(code)
            found[code] = {"plan": plan_region(spec)}
        except Exception as exc:  # reported per location, the others go on
            last = traceback.extract_tb(exc.__traceback__)[-1:]
            # The file relative to its package, never the runner's (or worktree's) path.
            shown = "/".join(last[0].filename.replace("\\", "/").rsplit("/", 2)[-2:]) \
                if last else ""
            where = f" at {shown}:{last[0].lineno}" if last else ""
            found[code] = {"error": f"{type(exc).__name__}: {exc}{where}"}
    return {"locations": found}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="provisioner.fleet.region_batch", description=__doc__)
    parser.add_argument("--out", required=True, help="result JSON file (written)")
    args = parser.parse_args(argv)
    import provisioner.synth

    result = {"header": {"format": REGION_BATCH_FORMAT, "synth": provisioner.synth.__file__},
              **plan_locations()}
    with open(args.out, "w", encoding="utf-8") as out:
        json.dump(result, out, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
