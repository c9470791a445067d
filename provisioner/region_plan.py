"""Offline plans of a location's platform stack (stacks/region), and their policy check.

    plan_region(spec)     -> the region plan JSON: {"region": {...}, "resources": [...]}
    evaluate_region(plan) -> PolicyReport under the regional rules
    check_region(spec)    -> both

The same mock runtime and plan shape as a tenant's plan (provisioner.synth): `resources` is
identical in form, only the header differs (`region` instead of `tenant`). A fleet planner
plans the eight locations with `plan_region` beside the tenants.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from provisioner.errors import UsageError
from provisioner.policy.model import PolicyReport
from provisioner.region_spec import RegionSpec
from provisioner.regions import Catalogue, catalogue

PROJECT = "region"


def plan_region(spec: RegionSpec, regions: Catalogue | None = None) -> dict[str, Any]:
    """Plan one location's platform stack under Pulumi's mock runtime (no CLI, no network)."""
    from provisioner.synth import plan_resources
    from stacks.region.platform import region_program

    cat = regions or catalogue()
    resources = plan_resources(lambda: region_program(spec), spec.stack_name, spec.location,
                               cat, project=PROJECT)
    return {"region": spec.to_dict(), "resources": resources}


def evaluate_region(plan: Mapping[str, Any]) -> PolicyReport:
    """Check a region plan against the regional rules. UsageError if it is malformed."""
    from provisioner.policy.engine import evaluate_graph
    from provisioner.policy.graph import Graph
    from provisioner.policy.plan_file import validate_plan
    from provisioner.policy.rules.regional import REGION_RULES

    header = plan.get("region") if isinstance(plan, Mapping) else None
    if not isinstance(header, Mapping) or not header.get("region"):
        raise UsageError("region plan: missing field 'region' (is this the output of"
                         " `provisioner region plan ... --output json`?)")
    # The resource list has the tenant plan's shape: validate it with the same code.
    shaped = validate_plan({"tenant": _as_tenant_header(header), "resources":
                            plan.get("resources")}, "region plan")
    graph = Graph.from_plan(shaped)
    graph.tenant = dict(header)
    return evaluate_graph(graph, REGION_RULES)


def _as_tenant_header(header: Mapping[str, Any]) -> dict[str, str]:
    """What plan_file.validate_plan requires of a header, filled from the region's."""
    from provisioner.policy.plan_file import TENANT_FIELDS

    return {key: str(header.get(key) or header.get("stack") or "-") for key in TENANT_FIELDS}


def check_region(spec: RegionSpec, regions: Catalogue | None = None) -> PolicyReport:
    return evaluate_region(plan_region(spec, regions))
