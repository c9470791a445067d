"""One tenant's outcome (its diff, policy verdict and danger), and tenants grouped by outcome.

Tenants whose changes are identical once their slug, region, backup region, account and
location code are taken out of names and values share one group (one section of the comment):
the same change in eight locations is one group, not eight, even though its ARNs and user data
name each region. Multi-line texts (user data, policies) are compared by their changed lines
only, so a one-line change to the user data groups tenants even though the rest differs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from provisioner.cost.delta import tenant_cost
from provisioner.fleet.cache import digest
from provisioner.fleet.diff import counts, data_losses, diff_plans, releases, retirements
from provisioner.fleet.upgrades import major_upgrades

LEGACY_PURPOSE = "legacy-backup-copy"  # stacks/components/legacy_backup.py's purpose tag
STATUSES = ("refused", "error", "removed", "changed", "added", "unchanged")
SLUG_MARK = "{slug}"
_ARN_ACCOUNT = re.compile(r"(arn:aws:[a-z0-9-]*:[a-z0-9-]*:)(\d{12})(:)")


Verdict = tuple[list[dict[str, Any]], int]  # mandatory failures (dicts), advisory warnings
PolicyOf = Callable[[str, dict[str, Any]], Verdict]  # (side "base"/"head", plan) -> verdict


def evaluate_policy(plan: dict[str, Any]) -> Verdict:
    """Mandatory failures (as dicts) and the number of advisory warnings of a plan."""
    from provisioner.policy import evaluate

    report = evaluate(plan)
    return [f.to_dict() for f in report.mandatory_failures], len(report.warnings)


def _uncached(_side: str, plan: dict[str, Any]) -> Verdict:
    return evaluate_policy(plan)


def tenant_outcome(
    slug: str,
    base_spec: dict[str, str] | None,
    head_spec: dict[str, str] | None,
    base: dict[str, Any] | None,
    head: dict[str, Any] | None,
    policy_of: PolicyOf = _uncached,
) -> dict[str, Any]:
    """What happens to one tenant. `base`/`head` are plan results (None: not in that fleet)."""
    notes: list[str] = []
    spec = head_spec or base_spec or {}
    outcome: dict[str, Any] = {
        "slug": slug,
        "location": spec.get("location", ""),
        "plan": spec.get("plan", ""),
        "where": _where(head, base),
        "spec": {"base": base_spec, "head": head_spec},
        "changes": diff_plans(None, None),
        "danger": [],
        "policy": {"failures": [], "warnings": 0},
        "error": None,
        "notes": notes,
        "cost": None,
    }
    if head is not None and "plan" not in head:
        outcome.update(status="error", error=f"planning fails: {head.get('error')}")
        outcome["danger"] = [f"the program fails to plan this tenant: {head.get('error')}"]
        outcome["counts"] = counts(outcome["changes"])
        return outcome
    base_plan = base.get("plan") if base is not None else None
    if base is not None and base_plan is None:
        notes.append(f"could not be planned at the base ({base.get('error')}): shown as added")
    head_plan = head.get("plan") if head is not None else None
    changes = diff_plans(base_plan, head_plan)
    outcome["changes"] = changes
    outcome["counts"] = counts(changes)
    if head_plan is None:
        status = "removed"
    elif base_plan is None:
        status = "added"
    else:
        status = "changed" if any(outcome["counts"].values()) else "unchanged"
    outcome["status"] = status
    outcome["cost"] = tenant_cost(base_plan, head_plan, (base_spec or spec).get("plan", ""),
                                  spec.get("plan", ""))
    # A tenant whose registry entry released its pre-backup-account copy (legacy_backup true at
    # the base, gone at the head) retires that copy on purpose: said, not flagged.
    retiring = frozenset({LEGACY_PURPOSE}) if (base_spec or {}).get("legacy_backup") and not (
        head_spec or {}).get("legacy_backup") else frozenset()
    danger = data_losses(changes, retiring=retiring)
    notes += releases(changes) + retirements(changes, retiring)
    if head_plan is not None:
        inputs = {r["urn"]: r.get("inputs", {}) for r in head_plan.get("resources", [])}
        danger += major_upgrades(changes, inputs)
        failures, warnings = policy_of("head", head_plan)
        # The base's verdict is always taken (and cached): it marks failures new or old, and a
        # later run where the working tree is back at the base reads it instead of planning.
        failures, lines = policy_danger(
            failures, policy_of("base", base_plan)[0] if base_plan is not None else [])
        danger += lines
        outcome["policy"] = {"failures": failures, "warnings": warnings}
    outcome["danger"] = danger
    return outcome


def policy_danger(
    failures: list[dict[str, Any]], base_failures: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[str]]:
    """The head's failures, each marked `new` unless the base failed the same way, and one
    danger line per failure."""
    before = {(f["rule_id"], f["urn"], f["message"]) for f in base_failures}
    marked, lines = [], []
    for failure in failures:
        failure = {**failure,
                   "new": (failure["rule_id"], failure["urn"], failure["message"]) not in before}
        label = "new" if failure["new"] else "already failing at the base"
        lines.append(f"policy {failure['rule_id']} fails ({label}): {failure['message']}")
        marked.append(failure)
    return marked, lines


def _where(*results: dict[str, Any] | None) -> dict[str, str]:
    """The tenant's region and backup region, from the first plan given (grouping takes them
    out of values so the same change in two locations is one group)."""
    for result in results:
        tenant = (result or {}).get("plan", {}).get("tenant", {})
        if tenant.get("region"):
            return {"region": str(tenant["region"]),
                    "backup_region": str(tenant.get("backup_region", ""))}
    return {"region": "", "backup_region": ""}


def _unplanned(
    slug: str, base_spec: dict[str, str], head_spec: dict[str, str], status: str,
    danger: list[str], policy: dict[str, Any], error: str | None,
) -> dict[str, Any]:
    """An outcome with no resource changes: nothing was planned or diffed for it."""
    return {
        "slug": slug,
        "location": head_spec["location"],
        "plan": head_spec["plan"],
        "where": {"region": "", "backup_region": ""},
        "spec": {"base": base_spec, "head": head_spec},
        "changes": diff_plans(None, None),
        "counts": counts(diff_plans(None, None)),
        "status": status,
        "danger": danger,
        "policy": policy,
        "error": error,
        "notes": [],
        "cost": None,
    }


def refused_outcome(
    slug: str, base_spec: dict[str, str], head_spec: dict[str, str], reason: str
) -> dict[str, Any]:
    """A change the fleet refuses outright (a tenant moving location): a mandatory failure,
    nothing planned or diffed."""
    return _unplanned(slug, base_spec, head_spec, "refused", [reason],
                      {"failures": [], "warnings": 0}, reason)


def unchanged_outcome(slug: str, spec: dict[str, str], verdict: Verdict) -> dict[str, Any]:
    """A tenant with the same spec under the same program: nothing to plan or diff, only the
    policy verdict (already failing rules still count as danger)."""
    failures = [{**f, "new": False} for f in verdict[0]]
    danger = [f"policy {f['rule_id']} fails (already failing at the base): {f['message']}"
              for f in failures]
    return _unplanned(slug, spec, spec, "unchanged", danger,
                      {"failures": failures, "warnings": verdict[1]}, None)


def normalise(value: Any, slug: str, where: dict[str, str] | None = None,
              location: str = "") -> Any:
    """`value` with the slug replaced by {slug} in every string and key; with `where`, also the
    account of every ARN, the tenant's region and backup region anywhere, and a
    value that is exactly the location code."""
    marks = [(slug, SLUG_MARK)]
    if where:
        marks += [(where[k], "{" + k + "}") for k in ("region", "backup_region") if where.get(k)]

    def text(value: str) -> str:
        if location and value == location:
            return "{location}"
        if where and "arn:aws:" in value:  # an ARN, or ARNs inside a policy or user data
            value = _ARN_ACCOUNT.sub(r"\1{account}\3", value)
        for old, new in marks:
            value = value.replace(old, new)
        return value

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return text(value)
        if isinstance(value, dict):
            return {walk(k): walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    return walk(value)


def _comparable(changes: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """Changes as grouping compares them: multi-line texts by their changed lines only."""
    out: dict[str, list[Any]] = {}
    for action, entries in changes.items():
        out[action] = []
        for entry in entries:
            entry = dict(entry)
            entry.pop("region", None)  # the tenant's region, not part of what changes
            if "changes" in entry:
                entry["changes"] = [
                    {"path": c["path"], "diff": c["diff"]} if "diff" in c else c
                    for c in entry["changes"]
                ]
            out[action].append(entry)
    return out


def _normalised(outcome: dict[str, Any], value: Any) -> Any:
    where = outcome.get("where") or {}
    return normalise(value, outcome["slug"], where, outcome["location"])


def group_key(outcome: dict[str, Any]) -> str:
    return digest(
        outcome["status"],
        _normalised(outcome, _comparable(outcome["changes"])),
        _normalised(outcome, outcome["danger"]),
        _normalised(outcome, outcome["policy"]["failures"]),
        _normalised(outcome, outcome["error"]),
    )


def group_outcomes(
    outcomes: list[dict[str, Any]],
    keys: dict[str, str] | None = None,
    expand: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Tenants that change, grouped by identical normalised outcome; dangerous groups first,
    then the larger ones, then by first slug. Unchanged tenants are counted, not grouped.
    `keys` (slug -> group key) are keys already known, e.g. one per shared template; `expand`
    turns a summary outcome (one with a known key) into the whole one shown for its group."""
    known = keys or {}
    by_key: dict[str, list[dict[str, Any]]] = {}
    for outcome in sorted(outcomes, key=lambda o: o["slug"]):
        if outcome["status"] != "unchanged" or outcome["danger"]:
            key = known.get(outcome["slug"]) or group_key(outcome)
            by_key.setdefault(key, []).append(outcome)
    groups = []
    for members in by_key.values():
        first = expand(members[0]) if expand else members[0]
        # A group of one shows the tenant's own values; larger groups show {slug}, and
        # {region}, {account}... when they span locations.
        many_places = len({m["location"] for m in members}) > 1

        def shown(value: Any, first: dict[str, Any] = first, many: bool = len(members) > 1,
                  places: bool = many_places) -> Any:
            if not many:
                return value
            if places:
                return _normalised(first, value)
            return normalise(value, first["slug"])

        groups.append(
            {
                "status": first["status"],
                "dangerous": bool(first["danger"]),
                "count": len(members),
                "tenants": [m["slug"] for m in members],
                "locations": sorted({m["location"] for m in members}),
                "plans": sorted({m["plan"] for m in members}),
                "counts": first["counts"],
                "changes": shown(first["changes"]),
                "danger": shown(first["danger"]),
                "policy": shown(first["policy"]),
                "error": shown(first["error"]),
                "notes": shown(first["notes"]),
            }
        )
    groups.sort(key=lambda g: (not g["dangerous"], STATUSES.index(g["status"]), -g["count"],
                               g["tenants"][0]))
    for number, group in enumerate(groups, start=1):
        group["id"] = f"g{number}"
    return groups
