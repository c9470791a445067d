"""Per-tenant outcomes (diff, policy, danger) for many tenants, in parallel where it pays.

The plans are already in memory (exact ones, or verified class templates) when this runs, so
worker processes are forked: they inherit everything and only tenant names go in and outcomes
come out. Each worker writes its policy verdicts and outcomes to the cache itself (atomic
files). Small fleets, one job, or a platform without fork run in this process.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from provisioner.fleet.cache import PlanCache
from provisioner.fleet.outcome import evaluate_policy, tenant_outcome

PARALLEL_MIN = 64  # tenants; below this a fork costs more than it saves


class PlanSource(Protocol):
    def get(self, spec: dict[str, str]) -> dict[str, Any]: ...


@dataclass
class OutcomeWork:
    """What computing one tenant's outcome needs."""

    base: dict[str, dict[str, str]]  # the base fleet, slug -> spec
    head: dict[str, dict[str, str]]  # the working tree's fleet
    base_plans: PlanSource
    head_plans: PlanSource
    cache: PlanCache
    verdict_key: Callable[[str, dict[str, str]], str]  # (side, spec) -> policy cache key
    outcome_keys: dict[str, str]  # slug -> outcome cache key

    def verdict(self, side: str, spec: dict[str, str], plan: dict[str, Any]) -> Any:
        """The policy verdict of one plan, cached by program hash, spec and rule code."""
        key = self.verdict_key(side, spec)
        cached = self.cache.get("policy", key)
        if cached is None:
            cached = list(evaluate_policy(plan))
            self.cache.put("policy", key, cached)
        return cached

    def outcome(self, slug: str) -> dict[str, Any]:
        b_spec, h_spec = self.base.get(slug), self.head.get(slug)
        b_res = self.base_plans.get(b_spec) if b_spec else None
        h_res = self.head_plans.get(h_spec) if h_spec else None

        def policy_of(side: str, plan: dict[str, Any]) -> Any:
            spec = h_spec if side == "head" else b_spec
            assert spec is not None
            return self.verdict(side, spec, plan)

        result = tenant_outcome(slug, b_spec, h_spec, b_res, h_res, policy_of)
        # A program that raised is not cached: it may have been the machine's fault.
        if not any(r is not None and r.get("kind") == "failed" for r in (b_res, h_res)):
            self.cache.put("outcomes", self.outcome_keys[slug], result)
        return result


_WORK: OutcomeWork | None = None  # set before forking; the children inherit it


def _chunk(slugs: list[str]) -> list[dict[str, Any]]:
    assert _WORK is not None
    return [_WORK.outcome(slug) for slug in slugs]


def compute_outcomes(work: OutcomeWork, slugs: list[str], jobs: int) -> dict[str, dict[str, Any]]:
    global _WORK
    parallel = (jobs > 1 and len(slugs) >= PARALLEL_MIN
                and "fork" in multiprocessing.get_all_start_methods())
    if not parallel:
        return {slug: work.outcome(slug) for slug in slugs}
    _WORK = work
    try:
        chunks = [slugs[i::jobs] for i in range(jobs)]
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            results = pool.map(_chunk, chunks)
    finally:
        _WORK = None
    return {o["slug"]: o for chunk in results for o in chunk}
