"""The regional platform stacks in a fleet plan: what a change does to each location's stack.

Every location of regions.yaml has one platform stack (stacks/region: the alert topic, the
rules that turn backup failures and key deletions into alerts, the CloudTrail trail they read),
whether or not it has tenants yet: a signup never goes through a pull request, so the stack must
already be right the day a location gets its first tenant. So `fleet plan` plans the stacks of
*all* locations each side's regions.yaml lists, with the alert subscriptions each side
configures (regions.yaml's `alerts`), and per location shows:

- the base vs working-tree diff (the same matching as tenants: `provisioner.fleet.diff`);
- danger: a resource everything alerting depends on replaced or deleted (the alert topic, an
  EventBridge rule or target, the platform key, the trail or its bucket, a certificate), the
  program failing to plan the stack, or a failing regional policy rule (REG-*, ISO-002) on the
  working tree's plan, marked new or already failing at the base;
- grouped like tenants: one change in eight locations is one group.

Cost: the regional program is a function of fewer files than the tenant program
(`REGION_PATHS`), so a change to the tenant program alone leaves the regional program hash
unchanged: the regional outcome is read from the cache (one file) and nothing is planned. The
plans of one revision are cached by its regional program hash (one file per side). Each side is
planned in one process running that side's code (`provisioner.fleet.region_batch`), the base in
the same temporary worktree the tenants use.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from provisioner.errors import EnvironmentProblem
from provisioner.fleet import pool
from provisioner.fleet.cache import PlanCache, digest
from provisioner.fleet.diff import counts, data_losses, diff_plans
from provisioner.fleet.gitrepo import PROGRAM_PATHS, Repository, Revision, program_hash
from provisioner.fleet.outcome import SLUG_MARK, group_outcomes, policy_danger
from provisioner.fleet.region_batch import REGION_BATCH_FORMAT

REGION_REPORT_FORMAT = 1
# What the regional program reads: the stack itself, the one component it shares with tenants
# (the DNS-validated certificate, for the pools' wildcard), the tenant program's planner files
# and regions.yaml, and its spec and plan.
REGION_PATHS = (
    "stacks/__init__.py",
    "stacks/region",
    "stacks/components/__init__.py",
    "stacks/components/certificate.py",
    *(p for p in PROGRAM_PATHS if p.startswith(("provisioner/", "regions.yaml"))),
    "provisioner/region_plan.py",
    "provisioner/region_spec.py",
)
STACK_PLAN = "platform"  # shown where a tenant shows its plan
# Replacing or deleting one of these silences alerts (or the trail they read) for a location.
CRITICAL = {
    "aws:sns/topic:Topic": "alert topic",
    "aws:sns/topicPolicy:TopicPolicy": "alert topic policy",
    "aws:cloudwatch/eventRule:EventRule": "alert rule",
    "aws:cloudwatch/eventTarget:EventTarget": "alert rule target",
    "aws:kms/key:Key": "platform key",
    "aws:cloudtrail/trail:Trail": "CloudTrail trail",
    "aws:s3/bucket:Bucket": "log bucket",
    "aws:acm/certificate:Certificate": "certificate",
}
# Started like the tenant batch (provisioner.fleet.pool), running the regional entry point.
BOOTSTRAP = pool.BOOTSTRAP.replace("provisioner.fleet.batch", "provisioner.fleet.region_batch") \
    .replace('"batch.py"', '"region_batch.py"')
assert BOOTSTRAP.count("region_batch") == 3, "provisioner.fleet.pool.BOOTSTRAP changed shape"
FALLBACK = Path(__file__).with_name("region_batch.py")
SideResult = dict[str, Any]  # {"locations": {code: {"plan"} | {"error"}}} or {"absent": why}


@dataclass
class RegionSide:
    """One side's regional program: its hash, and where its code is (opened only if needed)."""

    label: str  # "base" or "head"
    description: str
    program_hash: str
    open_root: Callable[[], Path]


def region_hashes(repo: Repository, base: Revision, environment: str) -> tuple[str, str]:
    """The regional program hash at the base and in the working tree."""
    return (program_hash(repo.revision_blobs(base, REGION_PATHS, ()), environment),
            program_hash(repo.working_blobs(REGION_PATHS, ()), environment))


def plan_side(side: RegionSide, cache: PlanCache, python: str = sys.executable) -> SideResult:
    """Every location's plan at one side, from the cache or one batch process."""
    key = digest("region-plans", REGION_BATCH_FORMAT, side.program_hash)
    cached = cache.get("regions", key)
    if cached is not None:
        return dict(cached)
    root = side.open_root()
    env = pool.subprocess_env()
    env.pop("PROVISIONER_ALERT_SUBSCRIPTIONS", None)  # each side alerts whom its config says
    with tempfile.TemporaryDirectory(prefix="provisioner-fleet-regions-") as tmp:
        out = Path(tmp) / "regions.json"
        proc = subprocess.run(
            [python, "-c", BOOTSTRAP, str(root), str(FALLBACK), "--out", str(out)],
            cwd=root, env=env, capture_output=True, text=True, check=False,
        )
        text = out.read_text(encoding="utf-8") if out.exists() else ""
    if proc.returncode != 0 or not text:
        tail = [line for line in (proc.stderr or "").strip().splitlines() if line.strip()]
        raise EnvironmentProblem(
            f"planning the regional stacks at {side.description} failed (exit"
            f" {proc.returncode}): {tail[-1] if tail else 'no output'}; run"
            " 'python -m provisioner.fleet.region_batch --out x.json' there to see the error"
        )
    result: SideResult = json.loads(text)
    synth = Path(str(result.pop("header", {}).get("synth", ""))).resolve()
    if root.resolve() not in synth.parents:  # as the tenant batch is checked (pool.py)
        raise EnvironmentProblem(
            f"planning the regional stacks at {side.description} ran {synth} instead of that"
            " revision's code: is another copy of provisioner first on PYTHONPATH?"
        )
    if not any("error" in v for v in result.get("locations", {}).values()):
        cache.put("regions", key, result)  # a failure may be the machine's: plan again
    return result


def _verdict(plan: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    from provisioner.region_plan import evaluate_region

    report = evaluate_region(plan)
    return [f.to_dict() for f in report.mandatory_failures], len(report.warnings)


def critical_losses(changes: dict[str, list[Any]]) -> list[str]:
    """Each replaced or deleted resource alerting depends on, one line each."""
    return data_losses(changes, CRITICAL)


def stack_outcome(
    code: str, base: dict[str, Any] | None, head: dict[str, Any] | None
) -> dict[str, Any]:
    """One location's stack, shaped like a tenant's outcome (its `slug` is the stack name) so
    grouping and rendering are shared. `base`/`head`: {"plan"} or {"error"}, None if absent."""
    head_plan = (head or {}).get("plan")
    base_plan = (base or {}).get("plan")
    header = (head_plan or base_plan or {}).get("region", {})
    notes: list[str] = []
    outcome: dict[str, Any] = {
        "slug": header.get("stack", f"region-{code}"),
        "location": code,
        "plan": STACK_PLAN,
        "where": {"region": str(header.get("region", "")), "backup_region": ""},
        "spec": {"base": (base_plan or {}).get("region"), "head": (head_plan or {}).get("region")},
        "error": None,
        "notes": notes,
        "cost": None,
        "policy": {"failures": [], "warnings": 0},
    }
    if head is not None and head_plan is None:
        error = f"planning fails: {head.get('error')}"
        changes = diff_plans(None, None)
        outcome.update(status="error", error=error, changes=changes, counts=counts(changes),
                       danger=[f"the program fails to plan the {code} regional stack:"
                               f" {head.get('error')}"])
        return outcome
    if base is not None and base_plan is None:
        notes.append(f"could not be planned at the base ({base.get('error')}): shown as added")
    changes = diff_plans(base_plan, head_plan)
    tally = counts(changes)
    if head_plan is None:
        status = "removed"
    elif base_plan is None:
        status = "added"
    else:
        status = "changed" if any(tally.values()) else "unchanged"
    danger = critical_losses(changes)
    if head_plan is not None:
        failures, warnings = _verdict(head_plan)
        failures, lines = policy_danger(
            failures, _verdict(base_plan)[0] if base_plan is not None else [])
        danger += lines
        outcome["policy"] = {"failures": failures, "warnings": warnings}
    outcome.update(status=status, changes=changes, counts=tally, danger=danger)
    return outcome


def regional_section(
    base: SideResult, head: SideResult, notices: list[str], base_hash: str, head_hash: str
) -> dict[str, Any]:
    """The report's `regions` part from both sides' plans."""
    if "absent" in base:
        notices.append(f"the base has no regional platform stack ({base['absent']}):"
                       " every location's stack shows as added")
    if "absent" in head:
        notices.append(f"the working tree has no regional platform stack ({head['absent']})")
    b_locs, h_locs = base.get("locations", {}), head.get("locations", {})
    outcomes = [stack_outcome(code, b_locs.get(code), h_locs.get(code))
                for code in sorted(set(b_locs) | set(h_locs))]
    groups = group_outcomes(outcomes)
    group_of = {slug: g["id"] for g in groups for slug in g["tenants"]}
    statuses = {s: 0 for s in ("unchanged", "changed", "added", "removed", "error")}
    resources = {a: 0 for a in ("create", "update", "replace", "delete")}
    for o in outcomes:
        statuses[o["status"]] += 1
        for action, n in o["counts"].items():
            resources[action] += n
    dangerous = [o for o in outcomes if o["danger"]]
    for i, group in enumerate(groups):
        group["stacks"] = group.pop("tenants")
        group["cost"] = None  # platform stacks are not priced per tenant
        group["id"] = "r" + group["id"][1:]
        # Grouping marks the member's name {slug}: here it is a stack's name.
        groups[i] = json.loads(json.dumps(group).replace(SLUG_MARK, "{stack}"))
    return {
        "format": REGION_REPORT_FORMAT,
        "base_program_hash": base_hash,
        "head_program_hash": head_hash,
        "program_changed": base_hash != head_hash,
        "summary": {"stacks": {"total": len(outcomes), **statuses, "dangerous": len(dangerous)},
                    "resources": resources},
        "changed": any(o["status"] != "unchanged" for o in outcomes),
        "dangerous": bool(dangerous),
        "groups": groups,
        "stacks": {
            o["location"]: {
                "stack": o["slug"],
                "region": o["where"]["region"],
                "status": o["status"],
                "group": "r" + group_of[o["slug"]][1:] if o["slug"] in group_of else None,
                "dangerous": bool(o["danger"]),
                "counts": o["counts"],
                "policy_failures": [f["rule_id"] for f in o["policy"]["failures"]],
            }
            for o in outcomes
        },
    }


def plan_regional(
    repo: Repository,
    base: Revision,
    environment: str,
    open_base: Callable[[], Path],
    cache: PlanCache,
    code_hash: str,
    say: Callable[[str], None],
) -> tuple[dict[str, Any], list[str], int]:
    """The report's `regions` part, the notices it adds, and how many sides were planned.
    Cached whole by both regional program hashes and the reporting code: a change to the tenant
    program alone costs one file read here."""
    base_hash, head_hash = region_hashes(repo, base, environment)
    key = digest("regional", REGION_REPORT_FORMAT, code_hash, base_hash, head_hash)
    cached = cache.get("regional", key)
    if cached is not None:
        return cached["section"], cached["notices"], 0
    head_side = RegionSide("head", "the working tree", head_hash, lambda: repo.root)
    say("regional stacks: planning the working tree's")
    head = plan_side(head_side, cache)
    planned = 1
    if base_hash == head_hash:
        base_result = head
    else:
        say("regional stacks: planning the base's")
        base_result = plan_side(RegionSide("base", f"{base.ref} ({base.short})", base_hash,
                                           open_base), cache)
        planned += 1
    notices: list[str] = []
    section = regional_section(base_result, head, notices, base_hash, head_hash)
    if not section["summary"]["stacks"]["error"]:
        cache.put("regional", key, {"section": section, "notices": notices})
    return section, notices, planned


def attach(report: dict[str, Any], section: dict[str, Any], notices: list[str]) -> None:
    """Fold the regional part into the fleet report: a regional change is a change, a regional
    danger a danger (the same exit codes as tenants)."""
    report["regions"] = section
    report["changed"] = bool(report["changed"] or section["changed"])
    report["dangerous"] = bool(report["dangerous"] or section["dangerous"])
    report["notices"] = sorted({*report["notices"], *notices})
