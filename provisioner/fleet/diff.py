"""The difference between two plans of one tenant: resources created, updated, replaced, deleted.

Resources are matched as Pulumi matches them: by URN (the stack, the parent chain, the type and
the name), else through one of the new resource's aliases (the plan's `aliases`: its own and
those inherited from its parents' aliases) naming an old URN no new resource has. A resource
renamed or re-parented with an alias is the same resource (an update only if its inputs differ,
with `previous` naming its old URN); without one it is a delete plus a create. Inputs are
compared property by property (dicts by key, lists of equal length element by element, anything
else whole), giving paths like `rootBlockDevice.encrypted` with their before and after values,
except inputs the new resource lists in `ignoreChanges` (Pulumi keeps those as they are);
`replace_rules` decides which paths force a replacement.
"""

from __future__ import annotations

import difflib
import json
from typing import Any

from provisioner.fleet.replace_rules import replacement_reasons

ACTIONS = ("create", "update", "replace", "delete")
_ABSENT = None  # an input set on one side only shows `null` on the other

# What holds data: replacing or deleting one of these loses or re-keys a tenant's data.
DATA_HOLDERS = {
    "aws:rds/instance:Instance": "database",
    "aws:rds/cluster:Cluster": "database",
    "aws:ebs/volume:Volume": "volume",
    "aws:kms/key:Key": "key",
    "aws:kms/replicaKey:ReplicaKey": "key",
    "aws:backup/vault:Vault": "backup vault",
    "aws:backup/logicallyAirGappedVault:LogicallyAirGappedVault": "backup vault",
}


# Not data, but not replaceable either: a compliance-mode Vault Lock is immutable once its grace
# time (changeableForDays) has passed, so AWS refuses a new configuration on the vault. (Deleting
# one from the stack is harmless: the stack retains locks on delete.)
LOCKED_FOREVER = {
    "aws:backup/vaultLockConfiguration:VaultLockConfiguration": "backup vault lock",
}


def property_changes(before: Any, after: Any, path: str = "") -> list[dict[str, Any]]:
    """Leaf-level differences between two input values, sorted by path."""
    if before == after:
        return []
    if isinstance(before, dict) and isinstance(after, dict):
        changes = []
        for key in sorted(set(before) | set(after)):
            sub = f"{path}.{key}" if path else str(key)
            changes += property_changes(before.get(key, _ABSENT), after.get(key, _ABSENT), sub)
        return changes
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        changes = []
        for index, (b, a) in enumerate(zip(before, after, strict=True)):
            changes += property_changes(b, a, f"{path}[{index}]")
        return changes
    change: dict[str, Any] = {"path": path, "before": before, "after": after}
    if isinstance(before, str) and isinstance(after, str) and ("\n" in before or "\n" in after):
        change["diff"] = text_diff(before, after)
    elif (documents := _json_documents(before, after)) is not None:
        # A policy is one line of JSON: its first 60 characters, the same on both sides, would
        # hide what changed. The line diff of the indented documents shows it.
        change["diff"] = text_diff(*documents)
    return [change]


def _json_documents(before: Any, after: Any) -> tuple[str, str] | None:
    """Both values indented, when both are JSON objects or arrays in a string (IAM, key, bucket
    and topic policies); None otherwise."""
    if not (isinstance(before, str) and isinstance(after, str)):
        return None
    if not (before.startswith(("{", "[")) and after.startswith(("{", "["))):
        return None
    try:
        parsed = json.loads(before), json.loads(after)
    except ValueError:
        return None
    before_text, after_text = (json.dumps(p, indent=1, sort_keys=True) for p in parsed)
    return before_text, after_text


def text_diff(before: str, after: str) -> list[str]:
    """The changed lines of a multi-line text (user data, policies), without context."""
    lines = difflib.unified_diff(
        before.splitlines(), after.splitlines(), lineterm="", n=0
    )
    return [line for line in lines if not line.startswith(("---", "+++", "@@"))]


def _entry(resource: dict[str, Any]) -> dict[str, Any]:
    return {"urn": resource["urn"], "type": resource["type"], "name": resource["name"],
            "region": resource.get("region", "")}


def match_resources(
    old: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]]
) -> dict[str, str]:
    """new URN -> old URN of the same resource: the same URN, else the first of the new
    resource's aliases that names an old resource no new resource has by URN or claimed first."""
    matched = {urn: urn for urn in new if urn in old}
    claimed = set(matched.values())
    for urn in sorted(new):
        if urn in matched:
            continue
        for alias in new[urn].get("aliases", ()):
            if alias in old and alias not in new and alias not in claimed:
                matched[urn] = alias
                claimed.add(alias)
                break
    return matched


def diff_plans(base: dict[str, Any] | None, head: dict[str, Any] | None) -> dict[str, list[Any]]:
    """{action: [resource entries]} between two plans (None: the tenant does not exist there)."""
    old = {r["urn"]: r for r in (base or {}).get("resources", [])}
    new = {r["urn"]: r for r in (head or {}).get("resources", [])}
    matched = match_resources(old, new)
    result: dict[str, list[Any]] = {action: [] for action in ACTIONS}
    for urn in sorted(set(old) - set(matched.values())):
        entry = _entry(old[urn])
        if old[urn].get("retainOnDelete"):  # Pulumi drops it from the state, AWS keeps it
            entry["retained"] = True
        purpose = (old[urn].get("inputs", {}).get("tags") or {}).get("purpose")
        if purpose:
            entry["purpose"] = purpose
        result["delete"].append(entry)
    for urn in sorted(new):
        if urn not in matched:
            result["create"].append(_entry(new[urn]))
            continue
        before, after = old[matched[urn]], new[urn]
        changes = [c for c in property_changes(before.get("inputs", {}), after.get("inputs", {}))
                   if not _ignored(str(c["path"]), after.get("ignoreChanges", ()))]
        if before.get("region") != after.get("region"):
            changes.append({"path": "region", "before": before.get("region"),
                            "after": after.get("region")})
            changes.sort(key=lambda c: str(c["path"]))
        if not changes:
            continue
        # A duplicated "region" path (input and effective region) counts once.
        paths = sorted({str(c["path"]) for c in changes})
        reasons = replacement_reasons(after["type"], paths, after.get("inputs", {}))
        entry = {**_entry(after), "changes": _dedupe(changes)}
        if matched[urn] != urn:
            entry["previous"] = matched[urn]
        if reasons:
            result["replace"].append({**entry, "reasons": reasons})
        else:
            result["update"].append(entry)
    return result


def _ignored(path: str, ignored: Any) -> bool:
    """Pulumi keeps an input listed in `ignore_changes` (and what lies below it) as it is."""
    return any(path == name or path.startswith((f"{name}.", f"{name}[")) for name in ignored)


def _dedupe(changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen, kept = set(), []
    for change in changes:
        if change["path"] not in seen:
            seen.add(change["path"])
            kept.append(change)
    return kept


def counts(changes: dict[str, list[Any]]) -> dict[str, int]:
    return {action: len(changes.get(action, [])) for action in ACTIONS}


def data_losses(
    changes: dict[str, list[Any]],
    holders: dict[str, str] | None = None,
    retiring: frozenset[str] = frozenset(),
) -> list[str]:
    """Why these changes are dangerous: each replaced or deleted data holder (or resource of
    `holders`: type -> what to call it), one line each. A deletion with `retainOnDelete` is no
    loss (the resource stays in AWS: `releases`), nor is the deletion of a resource whose
    `purpose` tag is in `retiring` (`retirements`)."""
    reasons = []
    for action in ("replace", "delete"):
        for entry in changes.get(action, []):
            kind = (DATA_HOLDERS if holders is None else holders).get(entry["type"])
            if action == "delete" and (entry.get("retained")
                                       or entry.get("purpose") in retiring):
                continue
            why = f" ({', '.join(entry['reasons'])} changed)" if entry.get("reasons") else ""
            verb = "replaces" if action == "replace" else "deletes"
            lock = LOCKED_FOREVER.get(entry["type"])
            if lock is not None and action == "replace":
                reasons.append(f"replaces {lock} {entry['name']}{why}: AWS refuses to change a"
                               " compliance-mode lock once its grace time (changeableForDays)"
                               " has passed")
            if kind is not None:
                reasons.append(f"{verb} {kind} {entry['name']}{why}")
    return reasons


def releases(changes: dict[str, list[Any]]) -> list[str]:
    """Deleted from the program but kept in AWS (`retain_on_delete`): one line per data holder."""
    return [
        f"releases {DATA_HOLDERS[e['type']]} {e['name']} from the stack: it stays in AWS"
        " (retain_on_delete), its recovery points expire by their lifecycle"
        for e in changes.get("delete", []) if e.get("retained") and e["type"] in DATA_HOLDERS
    ]


def retirements(changes: dict[str, list[Any]], retiring: frozenset[str]) -> list[str]:
    """Deletions the spec asked for (a `purpose` in `retiring`), one line per data holder."""
    return [
        f"retires {DATA_HOLDERS[e['type']]} {e['name']} ({e['purpose']}: the registry released"
        " it after the new backup vault held copies for the plan's retention)"
        for e in changes.get("delete", [])
        if e.get("purpose") in retiring and not e.get("retained") and e["type"] in DATA_HOLDERS
    ]
