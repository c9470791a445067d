"""`fleet plan`: plan every tenant at the base revision and in the working tree, and compare.

    report = plan_fleet(FleetOptions(repo=Path("."), base="origin/main"))

1. the fleet at each side: the tenants file at the base revision and in the working tree, or
   the registry (the same tenants on both sides: only program changes show);
2. program hashes of both sides (git blob ids); a tenant whose outcome is cached for both
   hashes, its specs and this reporting code costs one file read, and no worktree is made;
3. the rest is planned: each side in processes running that side's code (the base in a
   temporary `git worktree`), per (location, plan) class through a verified template where
   that saves work (see `template`), every plan through the plan cache;
4. per tenant: diff, policy rules on the new graph, danger; then groups and the summary;
5. every location's regional platform stack likewise (`regions`), cached by its own program
   hash, so a change to the tenant program alone plans none of them.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from provisioner.cost.delta import annotate_costs, apply_margin_gate
from provisioner.errors import UsageError
from provisioner.fleet import sources
from provisioner.fleet.cache import (
    PlanCache,
    digest,
    planner_environment,
    reporting_code_hash,
    spec_key,
)
from provisioner.fleet.compute import OutcomeWork, compute_outcomes
from provisioner.fleet.fleets import Fleets, given_fleets, load_fleets
from provisioner.fleet.gitrepo import Repository, Revision, program_hash
from provisioner.fleet.outcome import (
    group_key,
    group_outcomes,
    refused_outcome,
    unchanged_outcome,
)
from provisioner.fleet.parameters import WINDOWS_FILE, TenantValues, load_windows
from provisioner.fleet.pool import PlanPool, PlanResult, Site
from provisioner.fleet.regions import attach, plan_regional
from provisioner.fleet.residency import location_moves
from provisioner.fleet.shared import MIN_PAIR, Pair, merged, pairs_of
from provisioner.fleet.sides import ClassKey, SidePlans, SpecKey
from provisioner.fleet.sides import spec_key as side_spec_key

REPORT_FORMAT = 1
Progress = Callable[[str], None]


@dataclass(frozen=True)
class FleetOptions:
    repo: Path  # any directory inside the git checkout
    base: str  # the base git ref
    tenants: Path | None = None  # a tenants file; None: tenants.yaml at the root, else registry
    registry: bool = False  # take the fleet from the registry
    registry_url: str | None = None
    jobs: int = os.cpu_count() or 1
    cache_dir: Path | None = None  # None: no cache at all
    exact: bool = False  # plan every tenant, no templates
    max_monthly_usd: Mapping[str, float] = field(default_factory=dict)  # plan -> cost limit
    regions: bool = True  # also every location's regional platform stack (rollouts: tenants)


def plan_fleet(
    options: FleetOptions, progress: Progress | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The report (JSON-able, deterministic) and run statistics (for stderr)."""
    repo = Repository.discover(options.repo)
    base = repo.resolve(options.base)
    fleets = load_fleets(repo, base, options.tenants, options.registry, options.registry_url,
                         PlanCache(options.cache_dir))
    return _plan(repo, base, fleets, options, progress or (lambda _msg: None))


def fleet_changes(
    options: FleetOptions,
    base_specs: sources.Fleet,
    head_specs: sources.Fleet,
    progress: Progress | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The library entry: given fleets (slug -> {"slug", "location", "plan"}) at `options.base`
    and in the working tree of `options.repo`, the report (its `groups` are the change groups,
    dangerous first; `tenants` maps each slug to its status and group id) and run statistics.
    Specs are validated as `fleet plan` validates a tenants file (UsageError listing every
    error); a tenant whose location differs is refused, never planned."""
    repo = Repository.discover(options.repo)
    base = repo.resolve(options.base)
    fleets = given_fleets(repo, base, base_specs, head_specs)
    return _plan(repo, base, fleets, options, progress or (lambda _msg: None))


def _plan(
    repo: Repository, base: Revision, fleets: Fleets, options: FleetOptions, say: Progress
) -> tuple[dict[str, Any], dict[str, Any]]:
    env = planner_environment()
    base_hash = program_hash(repo.revision_blobs(base), env)
    head_hash = program_hash(repo.working_blobs(), env)
    mode = "exact" if options.exact else "templated"
    code = reporting_code_hash()
    cache = PlanCache(options.cache_dir)
    code_hashes = {"base": base_hash, "head": head_hash}

    # A tenant that changes location is refused before anything is planned.
    moves = location_moves(fleets.base, fleets.head, fleets.catalogues)
    outcomes: dict[str, dict[str, Any]] = {
        slug: refused_outcome(slug, fleets.base[slug], fleets.head[slug], reason)
        for slug, reason in moves.items()
    }
    base_fleet = {s: v for s, v in fleets.base.items() if s not in moves}
    head_fleet = {s: v for s, v in fleets.head.items() if s not in moves}
    slugs = sorted(set(base_fleet) | set(head_fleet))

    head_site = Site("head", "the working tree", head_hash, lambda: repo.root)
    head_values = _tenant_values(repo, None, fleets)
    stack = contextlib.ExitStack()
    if base_hash == head_hash:
        base_site = head_site  # same program: plan once, at the working tree
        head_side = base_side = SidePlans(
            head_site, [*base_fleet.values(), *head_fleet.values()], options.exact, cache,
            head_values)
    else:
        base_site = Site("base", f"{base.ref} ({base.short})", base_hash,
                         lambda: stack.enter_context(repo.worktree(base)))
        base_side = SidePlans(base_site, list(base_fleet.values()), options.exact, cache,
                              _tenant_values(repo, base, fleets))
        head_side = SidePlans(head_site, list(head_fleet.values()), options.exact, cache,
                              head_values)

    def templatable(side: SidePlans, fleet: sources.Fleet) -> dict[str, ClassKey | None]:
        found: dict[str, ClassKey | None] = {}
        for slug in slugs:
            if slug not in fleet:
                found[slug] = None
            elif (cls := side.template_class(fleet[slug])) is not None:
                found[slug] = cls
        return found

    pairs, rest = pairs_of(slugs, templatable(base_side, base_fleet),
                           templatable(head_side, head_fleet))
    pairs, rest = _settled(pairs, rest, base_side, head_side)

    def pair_key(pair: Pair) -> str:
        return digest("shared", REPORT_FORMAT, code, mode, base_hash, head_hash, pair.base,
                      pair.head, base_side.verifier(pair.base) if pair.base else None,
                      head_side.verifier(pair.head) if pair.head else None, pair.verifier())

    def verdict_key(side: str, spec: dict[str, str]) -> str:
        return digest("policy", code, code_hashes[side], spec_key(spec))

    def tenant_outcome_key(slug: str) -> str:
        return digest("outcome", REPORT_FORMAT, code, mode, base_hash, head_hash,
                      base_fleet.get(slug), head_fleet.get(slug))

    resolved: set[int] = set()  # pairs whose tenants' own outcomes are all cached
    for pair in pairs:
        cached = cache.get("shared", pair_key(pair))
        if cached is None:
            continue  # never computed: no tenant of it has an outcome of its own either
        if cached["template"] is not None:
            pair.template, pair.group = cached["template"], cached["group"]
            continue
        # A pair that did not verify last time was computed tenant by tenant: reuse those.
        earlier = {s: cache.get("outcomes", tenant_outcome_key(s)) for s in pair.slugs}
        if all(v is not None for v in earlier.values()):
            outcomes.update({s: v for s, v in earlier.items() if v is not None})
            resolved.add(id(pair))
    outcome_keys = {s: tenant_outcome_key(s) for s in rest}
    for slug in rest:
        found = cache.get("outcomes", outcome_keys[slug])
        spec = head_fleet.get(slug)
        if found is None and base_hash == head_hash and spec == base_fleet.get(slug) and spec:
            # Same program, same spec: nothing can differ, and with the policy verdict of this
            # plan cached, nothing needs planning.
            known = cache.get("policy", verdict_key("head", spec))
            if known is not None:
                found = unchanged_outcome(slug, spec, (known[0], known[1]))
                cache.put("outcomes", outcome_keys[slug], found)
        if found is not None:
            outcomes[slug] = found
    todo_pairs = [p for p in pairs if p.template is None and id(p) not in resolved]
    todo = [s for s in rest if s not in outcomes]
    stats: dict[str, Any] = {
        "tenants": len(slugs) + len(moves),
        "outcomes_cached": len(outcomes) - len(moves)
        + sum(len(p.slugs) for p in pairs if p.template is not None),
    }
    notices = list(fleets.notices)
    pool = PlanPool(cache, options.jobs, on_progress=lambda d, t: say(f"planned {d}/{t}"))
    with stack:
        planning_started = time.perf_counter()
        needed = {*todo, *(s for p in todo_pairs for s in p.slugs)}
        distinct = [base_side] if base_side is head_side else [base_side, head_side]

        def side_of(site: Site) -> SidePlans:
            return head_side if site is head_site else base_side

        first_requests = []
        for side in distinct:
            fleets_here = [f for f, s in ((base_fleet, base_side), (head_fleet, head_side))
                           if s is side]
            first_requests += side.first_round(
                {side_spec_key(f[s]) for f in fleets_here for s in needed if s in f})
        if first_requests:
            say(f"planning {len(needed)} tenant(s): {len(first_requests)} plan(s) first")
        by_side: dict[int, dict[SpecKey, PlanResult]] = {id(s): {} for s in distinct}
        for (site, spec), result in zip(first_requests, pool.plan(first_requests), strict=True):
            by_side[id(side_of(site))][side_spec_key(spec)] = result
        second_requests = [r for side in distinct for r in side.second_round(by_side[id(side)])]
        if second_requests:
            second = pool.plan(second_requests)
            for (site, spec), result in zip(second_requests, second, strict=True):
                side_of(site).results[side_spec_key(spec)] = result
        stats["planning_seconds"] = round(time.perf_counter() - planning_started, 2)
        outcomes_started = time.perf_counter()
        invalid = [
            f"{slug}: {result.get('error')}"
            for slug in sorted(needed)
            if slug in head_fleet
            and (result := head_side.results.get(side_spec_key(head_fleet[slug]), {})).get("kind")
            == "invalid"
        ]
        if invalid:
            where = fleets.source.get("path", "the registry")
            raise UsageError(f"{where}: invalid tenant(s): {'; '.join(invalid)}")
        # A pair whose class did not verify on a side is computed tenant by tenant.
        shared = []
        for pair in todo_pairs:
            if all(cls is None or side.verified(cls)
                   for cls, side in ((pair.base, base_side), (pair.head, head_side))):
                shared.append(pair)
            else:
                todo += pair.slugs
                for s in pair.slugs:
                    outcome_keys[s] = tenant_outcome_key(s)
        work = OutcomeWork(base_fleet, head_fleet, base_side, head_side, cache,
                           verdict_key, outcome_keys)
        if shared or todo:
            say(f"diff and policy: {len(shared)} shared outcome(s), {len(todo)} tenant(s)")
        outcomes.update(compute_outcomes(work, shared, sorted(todo), options.jobs))
        # Pairs that did not verify too (None): their tenants' own outcomes are cached instead.
        for pair in todo_pairs:
            cache.put("shared", pair_key(pair), {"template": pair.template, "group": pair.group})
        for site in {id(s): s for s in (base_site, head_site)}.values():
            notices += site.notices
        # The regional platform stacks, in the same base worktree when there is one.
        open_base = (base_site.root if base_site is not head_site
                     else lambda: stack.enter_context(repo.worktree(base)))
        regional = plan_regional(repo, base, env, open_base, cache, code, say) \
            if options.regions else None
        stats.update(
            region_sides_planned=regional[2] if regional else 0,
            outcome_seconds=round(time.perf_counter() - outcomes_started, 2),
            plans_run=pool.planned,
            plans_templated=sum(len(p.slugs) for p in pairs if p.template is not None),
            worktree=base_site is not head_site and base_site._root is not None,
        )
    group_keys: dict[str, str] = {}
    pair_of: dict[str, Pair] = {}
    for pair in pairs:
        if pair.template is None:
            continue
        assert pair.group is not None
        group = pair.group
        if options.max_monthly_usd:
            # The cost gate adds danger after the shared outcome was grouped: group the pair
            # as its verifier is grouped once gated (its members cost the same).
            group = group_key(_gated(pair.full(pair.verifier()), options.max_monthly_usd))
        windows = pair.shows_windows()
        for slug in pair.slugs:
            outcomes[slug] = pair.member(slug)
            if windows:
                group = group_key(_gated(pair.full(slug), options.max_monthly_usd))
            group_keys[slug], pair_of[slug] = group, pair

    def expand(outcome: dict[str, Any]) -> dict[str, Any]:
        pair = pair_of.get(outcome["slug"])
        if pair is None:
            return outcome
        return _gated(pair.full(outcome["slug"]), options.max_monthly_usd)

    apply_margin_gate(outcomes.values(), options.max_monthly_usd)
    report = build_report(base, repo, fleets.source, base_hash, head_hash,
                          list(outcomes.values()), notices, group_keys, expand)
    if regional is not None:
        attach(report, regional[0], regional[1])
    return report, stats


def _gated(outcome: dict[str, Any], margins: Mapping[str, float]) -> dict[str, Any]:
    apply_margin_gate([outcome], margins)
    return outcome


def _tenant_values(repo: Repository, revision: Revision | None, fleets: Fleets) -> TenantValues:
    """The per-tenant values at the base (`revision`) or in the working tree (None): that
    revision's own windows function, and its catalogue's regions."""
    if revision is None:
        path = repo.root / WINDOWS_FILE
        text = path.read_text(encoding="utf-8") if path.is_file() else None
        origin, catalogue = str(WINDOWS_FILE), fleets.catalogues[0]
    else:
        text = repo.show(revision, WINDOWS_FILE)
        origin = f"{revision.short}:{WINDOWS_FILE}"
        catalogue = fleets.catalogues[-1]  # the base's, when it parses
    regions = {code: loc.region for code, loc in catalogue.locations.items()}
    return TenantValues(load_windows(text, origin), regions, text)


def _settled(
    pairs: list[Pair], rest: list[str], base_side: SidePlans, head_side: SidePlans
) -> tuple[list[Pair], list[str]]:
    """Pairs given their members' values; a member whose values cannot fill its pair's
    template, and every member of a pair left too small or without a verifier, goes to the
    tenants computed one by one."""
    kept, single = [], list(rest)
    same = (base_side.values is not None and head_side.values is not None
            and base_side.values.same_as(head_side.values))
    for pair in pairs:
        pair.values_of = merged(
            base_side.values_of(pair.base) if pair.base else None,
            head_side.values_of(pair.head) if pair.head else None,
        )
        # Both sides' values equal for every tenant of one location: nothing to check.
        alike = same and pair.base is not None and pair.head is not None \
            and pair.base[0] == pair.head[0]
        single += pair.settle(alike)
        if len(pair.slugs) >= MIN_PAIR and pair.shareable():
            kept.append(pair)
        else:
            single += pair.slugs
    return kept, sorted(single)


def build_report(
    base: Revision,
    repo: Repository,
    source: dict[str, Any],
    base_hash: str,
    head_hash: str,
    outcomes: list[dict[str, Any]],
    notices: list[str],
    group_keys: dict[str, str] | None = None,
    expand: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    groups = group_outcomes(outcomes, group_keys, expand)
    cost = annotate_costs(groups, outcomes)
    group_of = {slug: g["id"] for g in groups for slug in g["tenants"]}
    statuses = {s: 0 for s in ("unchanged", "changed", "added", "removed", "error", "refused")}
    resources = {a: 0 for a in ("create", "update", "replace", "delete")}
    for o in outcomes:
        statuses[o["status"]] += 1
        for action, n in o["counts"].items():
            resources[action] += n
    dangerous = [o["slug"] for o in outcomes if o["danger"]]
    return {
        "format": REPORT_FORMAT,
        "base": {"ref": base.ref, "commit": base.commit, "program_hash": base_hash},
        "head": {"ref": "working tree", "commit": repo.head_commit(), "program_hash": head_hash},
        "program_changed": base_hash != head_hash,
        "source": source,
        "summary": {
            "tenants": {"total": len(outcomes), **statuses, "dangerous": len(dangerous)},
            "resources": resources,
            "cost": cost,
        },
        "changed": any(o["status"] != "unchanged" for o in outcomes),
        "dangerous": bool(dangerous),
        "groups": groups,
        "tenants": {
            o["slug"]: {
                "status": o["status"],
                "group": group_of.get(o["slug"]),
                "dangerous": bool(o["danger"]),
                "counts": o["counts"],
                "location": o["location"],
                "plan": o["plan"],
            }
            for o in sorted(outcomes, key=lambda o: o["slug"])
        },
        "notices": sorted(set(notices)),
    }
