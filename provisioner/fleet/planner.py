"""`fleet plan`: plan every tenant at the base revision and in the working tree, and compare.

    report = plan_fleet(FleetOptions(repo=Path("."), base="origin/main"))

1. the fleet at each side: the tenants file at the base revision and in the working tree, or
   the registry (the same tenants on both sides: only program changes show);
2. program hashes of both sides (git blob ids); a tenant whose outcome is cached for both
   hashes, its specs and this reporting code costs one file read, and no worktree is made;
3. the rest is planned: each side in processes running that side's code (the base in a
   temporary `git worktree`), per (location, plan) class through a verified template where
   that saves work (see `template`), every plan through the plan cache;
4. per tenant: diff, policy rules on the new graph, danger; then groups and the summary.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from provisioner.errors import UsageError
from provisioner.fleet import sources
from provisioner.fleet.cache import PlanCache, digest, planner_environment, spec_key
from provisioner.fleet.compute import OutcomeWork, compute_outcomes
from provisioner.fleet.gitrepo import Repository, Revision, program_hash
from provisioner.fleet.outcome import group_outcomes, unchanged_outcome
from provisioner.fleet.pool import PlanPool, PlanResult, Site
from provisioner.fleet.template import ClassPlan, classes, instantiate

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


def reporting_code_hash() -> str:
    """The code that turns plans into outcomes (this package, the policy rules): a change to
    it must not reuse outcomes computed by the old code."""
    package = Path(__file__).resolve().parent.parent
    files = sorted(
        [*package.joinpath("fleet").glob("*.py"), *package.joinpath("policy").rglob("*.py"),
         package / "promises.py"]
    )
    sha = hashlib.sha256()
    for path in files:
        sha.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    return sha.hexdigest()


@dataclass
class _Fleets:
    base: sources.Fleet
    head: sources.Fleet
    source: dict[str, Any]
    notices: list[str]


def _load_fleets(repo: Repository, base: Revision, options: FleetOptions) -> _Fleets:
    notices: list[str] = []
    tenants_path = options.tenants
    if tenants_path is None and not options.registry:
        default = repo.root / sources.DEFAULT_TENANTS_FILE
        if default.is_file():
            tenants_path = default
        elif not _registry_exists(options.registry_url):
            raise UsageError(
                f"no fleet to plan: {default} does not exist and no registry was found; give"
                " --tenants FILE or --registry"
            )
    if tenants_path is None:
        fleet = sources.registry_fleet(options.registry_url)
        return _Fleets(fleet, fleet, {"kind": "registry"}, notices)
    path = tenants_path
    if not path.is_absolute():
        # Relative to where the command runs, else to the repository root (CI runs at the root,
        # a person with --repo may not).
        here = Path.cwd() / path
        path = here if here.exists() or not (repo.root / path).exists() else repo.root / path
    try:
        rel = repo.relative(path)
    except ValueError as exc:
        raise UsageError(
            f"tenants file {tenants_path} is outside the repository {repo.root}: keep it in"
            " git so the base revision has its own copy"
        ) from exc
    head = sources.read_tenants_file(path)
    text = repo.show(base, rel)
    if text is None:
        notices.append(f"{rel} does not exist at {base.ref}: every tenant shows as added")
        base_fleet: sources.Fleet = {}
    else:
        try:
            base_fleet = sources.parse_tenants(text, f"{rel} at {base.ref}")
        except UsageError as exc:
            notices.append(f"{exc}; every tenant shows as added")
            base_fleet = {}
    return _Fleets(base_fleet, head, {"kind": "file", "path": rel}, notices)


def _registry_exists(url: str | None) -> bool:
    from provisioner.paths import data_dir

    return bool(url or os.environ.get("PROVISIONER_DATABASE_URL")) or (
        data_dir() / "registry.db"
    ).exists()


SpecKey = tuple[str, str, str]


def _key(spec: dict[str, str]) -> SpecKey:
    return (spec["slug"], spec["location"].strip().lower(), spec["plan"].strip().lower())


class _SidePlans:
    """The plans one side (a program hash) needs, exact or from verified templates."""

    def __init__(self, site: Site, specs: dict[SpecKey, dict[str, str]], exact: bool) -> None:
        self.site = site
        self.specs = specs
        self.exact = exact
        self.results: dict[SpecKey, PlanResult] = {}
        self.templates: dict[tuple[str, str], ClassPlan] = {}
        self.pending: list[ClassPlan] = []

    def first_round(self) -> list[tuple[Site, dict[str, str]]]:
        requests: list[tuple[Site, dict[str, str]]] = []
        for cls in classes(list(self.specs.values())):
            mine = [self.specs[(s, cls.location, cls.plan)] for s in cls.slugs]
            if self.exact or not cls.worth_templating():
                requests += [(self.site, spec) for spec in mine]
                continue
            self.pending.append(cls)
            requests += [(self.site, s) for s in cls.probe_specs]
            verifier = cls.pick_verifier()
            requests += [(self.site, spec) for spec in mine if spec["slug"] == verifier]
        # Tenants bound to pooled instances are not in any class (template.classes).
        requests += [(self.site, s) for s in self.specs.values() if s.get("instance_id")]
        return requests

    def second_round(self, first: dict[SpecKey, PlanResult]) -> list[tuple[Site, dict[str, str]]]:
        """Verify the templates; classes that fail are planned tenant by tenant."""
        self.results.update(first)
        requests: list[tuple[Site, dict[str, str]]] = []
        for cls in self.pending:
            probes = [first[_key(s)] for s in cls.probe_specs]
            verifier = first[(cls.pick_verifier(), cls.location, cls.plan)]
            if cls.verify(probes, verifier):
                self.templates[(cls.location, cls.plan)] = cls
            else:
                self.site.notices.append(
                    f"tenants in {cls.location}/{cls.plan} at {self.site.description} do not"
                    " plan alike: planned one by one"
                )
                requests += [
                    (self.site, {"slug": s, "location": cls.location, "plan": cls.plan})
                    for s in cls.slugs
                ]
        return requests

    def get(self, spec: dict[str, str]) -> PlanResult:
        key = _key(spec)
        if key in self.results:
            return self.results[key]
        cls = self.templates[(key[1], key[2])]
        assert cls.template is not None
        return {"plan": instantiate(cls.template, key[0])}


def plan_fleet(
    options: FleetOptions, progress: Progress | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The report (JSON-able, deterministic) and run statistics (for stderr)."""
    say = progress or (lambda _msg: None)
    repo = Repository.discover(options.repo)
    base = repo.resolve(options.base)
    fleets = _load_fleets(repo, base, options)
    env = planner_environment()
    base_hash = program_hash(repo.revision_blobs(base), env)
    head_hash = program_hash(repo.working_blobs(), env)
    mode = "exact" if options.exact else "templated"
    code = reporting_code_hash()
    cache = PlanCache(options.cache_dir)
    slugs = sorted(set(fleets.base) | set(fleets.head))
    outcome_keys = {
        s: digest("outcome", REPORT_FORMAT, code, mode, base_hash, head_hash,
                  fleets.base.get(s), fleets.head.get(s))
        for s in slugs
    }
    outcomes: dict[str, dict[str, Any]] = {}
    for slug in slugs:
        cached = cache.get("outcomes", outcome_keys[slug])
        if cached is not None:
            outcomes[slug] = cached
    code_hashes = {"base": base_hash, "head": head_hash}

    def verdict_key(side: str, spec: dict[str, str]) -> str:
        return digest("policy", code, code_hashes[side], spec_key(spec))

    for slug in slugs:
        spec = fleets.head.get(slug)
        if slug in outcomes or spec is None or spec != fleets.base.get(slug):
            continue
        if base_hash == head_hash:
            # Same program, same spec: nothing can differ, and with the policy verdict of this
            # plan cached, nothing needs planning.
            known = cache.get("policy", verdict_key("head", spec))
            if known is not None:
                outcomes[slug] = unchanged_outcome(slug, spec, (known[0], known[1]))
                cache.put("outcomes", outcome_keys[slug], outcomes[slug])
    missing = [s for s in slugs if s not in outcomes]
    stats: dict[str, Any] = {"tenants": len(slugs), "outcomes_cached": len(outcomes)}
    notices = list(fleets.notices)
    pool = PlanPool(cache, options.jobs, on_progress=lambda d, t: say(f"planned {d}/{t}"))
    with contextlib.ExitStack() as stack:
        head_site = Site("head", "the working tree", head_hash, lambda: repo.root)
        if base_hash == head_hash:
            base_site = head_site  # same program: plan once, at the working tree
        else:
            base_site = Site(
                "base", f"{base.ref} ({base.short})", base_hash,
                lambda: stack.enter_context(repo.worktree(base)),
            )
        sides: dict[int, _SidePlans] = {}
        for site, fleet in ((base_site, fleets.base), (head_site, fleets.head)):
            side = sides.setdefault(id(site), _SidePlans(site, {}, options.exact))
            for slug in missing:
                if slug in fleet:
                    side.specs[_key(fleet[slug])] = fleet[slug]
        planning_started = time.perf_counter()
        first_requests = [r for side in sides.values() for r in side.first_round()]
        if first_requests:
            say(f"planning {len(missing)} tenant(s): {len(first_requests)} plan(s) first")
        first = dict(zip(((id(s), _key(spec)) for s, spec in first_requests),
                         pool.plan(first_requests), strict=True))
        second_requests = []
        for sid, side in sides.items():
            mine = {k: v for (owner, k), v in first.items() if owner == sid}
            second_requests += side.second_round(mine)
        if second_requests:
            second = pool.plan(second_requests)
            for (site, spec), result in zip(second_requests, second, strict=True):
                sides[id(site)].results[_key(spec)] = result
        stats["planning_seconds"] = round(time.perf_counter() - planning_started, 2)
        outcomes_started = time.perf_counter()
        head_side, base_side = sides[id(head_site)], sides[id(base_site)]
        invalid = [
            f"{slug}: {result.get('error')}"
            for slug in missing
            if slug in fleets.head
            and (result := head_side.results.get(_key(fleets.head[slug]), {})).get("kind")
            == "invalid"
        ]
        if invalid:
            where = fleets.source.get("path", "the registry")
            raise UsageError(f"{where}: invalid tenant(s): {'; '.join(invalid)}")
        work = OutcomeWork(fleets.base, fleets.head, base_side, head_side, cache,
                           verdict_key, outcome_keys)
        templated = sum(
            1
            for side, fleet in ((base_side, fleets.base), (head_side, fleets.head))
            for slug in missing
            if slug in fleet and _key(fleet[slug]) not in side.results
        )
        outcomes.update(compute_outcomes(work, missing, options.jobs))
        for site in {id(s): s for s in (base_site, head_site)}.values():
            notices += site.notices
        stats.update(
            outcome_seconds=round(time.perf_counter() - outcomes_started, 2),
            plans_run=pool.planned,
            plans_templated=templated,
            worktree=base_site is not head_site and base_site._root is not None,
        )
    report = build_report(
        base, repo, fleets.source, base_hash, head_hash, list(outcomes.values()), notices
    )
    return report, stats


def build_report(
    base: Revision,
    repo: Repository,
    source: dict[str, Any],
    base_hash: str,
    head_hash: str,
    outcomes: list[dict[str, Any]],
    notices: list[str],
) -> dict[str, Any]:
    groups = group_outcomes(outcomes)
    group_of = {slug: g["id"] for g in groups for slug in g["tenants"]}
    statuses = {s: 0 for s in ("unchanged", "changed", "added", "removed", "error")}
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
