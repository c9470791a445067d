"""Reading a plan JSON someone hands us (a CI artifact): the shape is checked before any rule
runs, and every problem is one UsageError line naming the file, the entry and the field."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from provisioner.errors import UsageError

TENANT_FIELDS = ("slug", "location", "region", "jurisdiction", "plan", "backup_region",
                 "backup_mode")
RESOURCE_FIELDS: dict[str, tuple[type, ...]] = {
    "urn": (str,),
    "type": (str,),
    "name": (str,),
    "region": (str,),
    "parent": (str, type(None)),
    "inputs": (dict,),
}


def validate_plan(plan: Any, source: str = "plan") -> dict[str, Any]:
    """Return `plan` if it has the plan JSON's shape, else raise UsageError saying where not."""
    if not isinstance(plan, Mapping):
        raise UsageError(f"{source}: not a plan: expected an object with 'tenant' and"
                         f" 'resources', got {type(plan).__name__}")
    for key in ("tenant", "resources"):
        if key not in plan:
            raise UsageError(f"{source}: missing field '{key}' (is this the output of"
                             " `provisioner plan ... --output json`?)")
    tenant = plan["tenant"]
    if not isinstance(tenant, Mapping):
        raise UsageError(f"{source}: field 'tenant' must be an object")
    for key in TENANT_FIELDS:
        if not isinstance(tenant.get(key), str) or not tenant[key]:
            raise UsageError(f"{source}: tenant: missing or empty field '{key}'")
    resources = plan["resources"]
    if not isinstance(resources, list):
        raise UsageError(f"{source}: field 'resources' must be a list")
    seen: set[str] = set()
    for i, res in enumerate(resources):
        where = f"{source}: resources[{i}]"
        if not isinstance(res, Mapping):
            raise UsageError(f"{where}: must be an object")
        for key, kinds in RESOURCE_FIELDS.items():
            if key not in res:
                raise UsageError(f"{where}: missing field '{key}'")
            if not isinstance(res[key], kinds):
                names = " or ".join("null" if k is type(None) else k.__name__ for k in kinds)
                raise UsageError(f"{where}: field '{key}' must be {names}")
        if res["urn"] in seen:
            raise UsageError(f"{where}: duplicate urn {res['urn']}")
        seen.add(res["urn"])
    return dict(plan)


def load_plan_file(path: Path) -> dict[str, Any]:
    """Read and validate a plan JSON file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise UsageError(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise UsageError(f"{path}: is a directory, not a plan JSON file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read: {exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}: not JSON: {exc.msg} at line {exc.lineno} column"
                         f" {exc.colno}") from exc
    return validate_plan(data, str(path))
