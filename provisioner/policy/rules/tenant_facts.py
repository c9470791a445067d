"""What several hardening rules need to know about the tenant and its policy documents.

The plan's `tenant` block says where the tenant lives and which plan it pays for; the numbers a
plan promises (backup retention, log retention, paid or not) come from the product catalogue,
and the location's backup account from regions.yaml when an older plan file lacks it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from provisioner.errors import ProvisionerError
from provisioner.plans import PlanSizes, get_plan
from provisioner.policy.graph import Graph, Resource, Undetermined, Unknown, as_list

ACCOUNT_IN_ARN_FIELD = 4


def plan_sizes(g: Graph) -> PlanSizes | None:
    """The tenant's plan, None when the plan name is not one of the catalogue's."""
    try:
        return get_plan(str(g.tenant.get("plan", "")))
    except ProvisionerError:
        return None


def instance_id(g: Graph) -> str:
    """What the stack's physical names derive from: a pooled instance's id, else the slug (the
    plan's `tenant` block names an instance id only when it differs from the slug)."""
    return str(g.tenant.get("instance_id") or g.tenant.get("slug", ""))


def backup_account(g: Graph) -> str:
    """The location's backup account: the plan's own field, else regions.yaml's."""
    value = g.tenant.get("backup_account_id")
    if isinstance(value, str) and value:
        return value
    from provisioner.regions import catalogue

    location = catalogue().locations.get(str(g.tenant.get("location", "")))
    return location.backup.account_id if location else ""


def arn_account(value: Any) -> str | None:
    """The account field of an ARN string (None for anything else or an empty field)."""
    if not isinstance(value, str) or not value.startswith("arn:"):
        return None
    parts = value.split(":")
    return parts[ACCOUNT_IN_ARN_FIELD] or None if len(parts) > ACCOUNT_IN_ARN_FIELD else None


def document(res: Resource, field: str) -> Mapping[str, Any] | None:
    """A JSON policy document input; None when absent, `{}` when unreadable (which rules treat
    as a failure, since nothing can be proved of it)."""
    raw = res.inputs.get(field)
    if isinstance(raw, Unknown):
        raise Undetermined(f"{res.name}.{field} is not known yet")
    if isinstance(raw, Mapping):
        return raw
    if not isinstance(raw, str) or not raw.strip():
        return None
    try:
        parsed = json.loads(raw)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, Mapping) else {}


def statements(doc: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for statement in as_list(doc.get("Statement")):
        if isinstance(statement, Mapping):
            yield statement


def strings(value: Any) -> list[str]:
    """An IAM field that is a string or a list of strings, as a list of strings."""
    return [str(v) for v in as_list(value)]
