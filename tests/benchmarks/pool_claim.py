"""The signup transaction with a warm-pool claim against the same transaction with no pool to
claim from (the cold path, which is also the baseline), interleaved in one run so machine load
falls on both alike. In-process: the registry call the API makes, without HTTP.

    PROVISIONER_TEST_POSTGRES_URL=... .venv/bin/python tests/benchmarks/pool_claim.py [--n 1000]

Prints p50/p99 per path and backend (ms).
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from provisioner.registry import Registry
from provisioner.registry.signup import signup
from provisioner.spec import TenantSpec
from tests.benchmarks._databases import backends, database, percentile
from tests.benchmarks._pools import fill_ready


def one(registry: Registry, location: str) -> tuple[float, bool]:
    slug = f"b{uuid.uuid4().hex[:12]}"
    spec = TenantSpec.create(slug, location, "trial")
    started = time.perf_counter()
    answer = signup(registry, spec, "a@b.io", actor="bench", key=slug, request_hash="h",
                    render=lambda t: {"pooled": bool(t.instance_id)},
                    conflict=lambda exc: {})  # fmt: skip
    return time.perf_counter() - started, bool(answer.body.get("pooled"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="signups per path")
    args = parser.parse_args()
    print(f"{args.n} signups per path, interleaved; ms")
    print(f"{'backend':<11}{'path':<28}{'p50':>8}{'p99':>8}")
    for backend in backends():
        with database(backend) as url, Registry.open(url) as registry:
            fill_ready(registry, args.n)
            times: dict[str, list[float]] = {"claims a pooled instance (de)": [],
                                             "cold, no pool (us)": []}  # fmt: skip
            for _ in range(args.n):
                took, pooled = one(registry, "de")
                assert pooled, "the pool ran dry"
                times["claims a pooled instance (de)"].append(took)
                took, pooled = one(registry, "us")
                assert not pooled
                times["cold, no pool (us)"].append(took)
            for path, values in times.items():
                print(f"{backend:<11}{path:<28}{percentile(values, 0.5) * 1000:>8.2f}"
                      f"{percentile(values, 0.99) * 1000:>8.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
