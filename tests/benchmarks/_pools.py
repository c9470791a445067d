"""Benchmarks' shortcut to a full warm pool: ready instances recorded through the workers' own
registry calls (claim the build jobs, report them done), with no engine in between."""

from __future__ import annotations

from datetime import UTC, datetime

from provisioner.registry import Registry, pools


def fill_ready(registry: Registry, size: int, location: str = "de", plan: str = "trial") -> None:
    now = datetime.now(UTC)
    pools.set_target(registry, location, plan, size, now=now)
    region = {"de": "eu-central-1"}.get(location, location)
    jobs = pools.claim_jobs(registry, "bench", now=now, limit=size, lease_seconds=600,
                            program_version="bench", region_of=lambda code: region)  # fmt: skip
    for job in jobs:
        pools.finish_job(registry, job, now=now, program_version="bench")
