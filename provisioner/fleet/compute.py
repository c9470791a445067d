"""Per-tenant and per-pair outcomes (diff, policy, danger), in parallel where it pays.

The plans are already in memory (exact ones, or verified class templates) when this runs, so
worker processes are forked: they inherit everything and only tenant names or pair numbers go
in and outcomes come out. Each worker writes its policy verdicts and outcomes to the cache
itself (atomic files). Small amounts of work, one job, or a platform without fork run in this
process.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from provisioner.fleet.cache import PlanCache
from provisioner.fleet.outcome import evaluate_policy, group_key, tenant_outcome
from provisioner.fleet.shared import PROBE, Pair

PARALLEL_MIN = 64  # outcomes; below this a fork costs more than it saves


class PlanSource(Protocol):
    def get(self, spec: dict[str, str]) -> dict[str, Any]: ...


@dataclass
class OutcomeWork:
    """What computing outcomes needs."""

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

    def outcome_of(
        self, slug: str, b_spec: dict[str, str] | None, h_spec: dict[str, str] | None
    ) -> dict[str, Any]:
        """One outcome, computed (not cached as a whole)."""
        b_res = self.base_plans.get(b_spec) if b_spec else None
        h_res = self.head_plans.get(h_spec) if h_spec else None

        def policy_of(side: str, plan: dict[str, Any]) -> Any:
            spec = h_spec if side == "head" else b_spec
            assert spec is not None
            return self.verdict(side, spec, plan)

        return tenant_outcome(slug, b_spec, h_spec, b_res, h_res, policy_of)

    def outcome(self, slug: str) -> dict[str, Any]:
        """A tenant's outcome on its own, cached per tenant."""
        result = self.outcome_of(slug, self.base.get(slug), self.head.get(slug))
        # A program that raised is not cached: it may have been the machine's fault.
        if result["status"] != "error" and not any(
            "could not be planned" in note for note in result["notes"]
        ):
            self.cache.put("outcomes", self.outcome_keys[slug], result)
        return result

    def pair_template(self, pair: Pair) -> tuple[str | None, str | None]:
        """A pair's verified outcome template and group key, or (None, None)."""
        probe = self.outcome_of(PROBE, pair.probe_spec("base"), pair.probe_spec("head"))
        verifier = pair.verifier()
        real = self.outcome_of(verifier, self.base.get(verifier), self.head.get(verifier))
        template = pair.template_from(probe, real)
        return template, (group_key(real) if template is not None else None)


_WORK: OutcomeWork | None = None  # set before forking; the children inherit it
_PAIRS: list[Pair] = []

Task = tuple[str, Any]  # ("pair", index) or ("tenant", slug)


def _run(task: Task) -> Any:
    assert _WORK is not None
    kind, item = task
    if kind == "pair":
        return _WORK.pair_template(_PAIRS[item])
    return _WORK.outcome(item)


def _run_all(tasks: list[Task], weight: int, jobs: int) -> list[Any]:
    parallel = (jobs > 1 and weight >= PARALLEL_MIN
                and "fork" in multiprocessing.get_all_start_methods())
    if not parallel:
        return [_run(t) for t in tasks]
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        # Pairs first (each is two outcomes), then tenants in chunks: the pool drains evenly.
        return pool.map(_run, tasks, chunksize=max(1, len(tasks) // (jobs * 8)))


def compute_outcomes(
    work: OutcomeWork, pairs: list[Pair], slugs: list[str], jobs: int
) -> dict[str, dict[str, Any]]:
    """Outcomes of `slugs` and of every pair's members; each pair gets its template and group
    key set (members of a pair that does not verify are computed one by one)."""
    global _WORK, _PAIRS
    _WORK, _PAIRS = work, pairs
    try:
        found = _run_all([("pair", i) for i in range(len(pairs))], 2 * len(pairs), jobs)
        for pair, (template, group) in zip(pairs, found, strict=True):
            pair.template, pair.group = template, group
        single = sorted({*slugs, *(s for p in pairs if p.template is None for s in p.slugs)})
        outcomes = _run_all([("tenant", s) for s in single], len(single), jobs)
    finally:
        _WORK, _PAIRS = None, []
    return {o["slug"]: o for o in outcomes}
