"""Estimates of one tenant (its offline plan, priced) and of a fleet, by location and plan.

A tenant's cost depends on its location and plan, not on its slug, so a fleet is priced one
(location, plan) class at a time: 10,000 tenants cost 32 offline plans at most. Other stacks
(the regional platform stacks, warm-pool instances) are priced from their plan JSON through the
same `estimate_plan` and added with `extra`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from provisioner.cost.estimate import estimate_plan
from provisioner.cost.snapshot import PriceSnapshot
from provisioner.cost.usage import UsageBook

PlanOf = Callable[[str, str, str], dict[str, Any]]  # (slug, location, plan) -> plan JSON


def synth_plan_of(slug: str, location: str, plan: str) -> dict[str, Any]:
    """The tenant's offline plan (provisioner/synth.py), validated like the CLI's input."""
    from provisioner.spec import TenantSpec
    from provisioner.synth import synth_plan

    return synth_plan(TenantSpec.create(slug, location, plan))


def estimate_tenant_plan(
    plan: Mapping[str, Any], snapshot: PriceSnapshot, book: UsageBook, usage_plan: str | None = None
) -> dict[str, Any]:
    """A plan's estimate as JSON, with the tenant and the usage figures it assumed."""
    tenant = dict(plan.get("tenant") or {})
    usage = book.for_plan(usage_plan or str(tenant.get("plan") or ""))
    result = estimate_plan(plan, snapshot, usage).to_dict()
    result["tenant"] = tenant
    result["usage"] = {
        "plan": usage.plan,
        "hours_per_month": usage.hours_per_month,
        **dict(usage.figures),
        "files": list(book.sources),
    }
    return result


@dataclass(frozen=True)
class ExtraPlan:
    """A stack priced beside the tenants: a regional platform stack, a warm-pool instance."""

    name: str
    plan: Mapping[str, Any]
    usage_plan: str  # whose usage assumptions apply
    count: int = 1


def _unpriced_labels(estimate: Mapping[str, Any]) -> list[str]:
    return sorted({f"{u['resource']}: {u['what']}" for u in estimate["unpriced"]})


def estimate_fleet(
    tenants: Mapping[str, Mapping[str, str]],
    snapshot: PriceSnapshot,
    book: UsageBook,
    plan_of: PlanOf = synth_plan_of,
    extra: Sequence[ExtraPlan] = (),
    on_class: Callable[[str, str], None] | None = None,
) -> dict[str, Any]:
    """The fleet's monthly estimate: per (location, plan) class, by location, by plan."""
    classes: dict[tuple[str, str], list[str]] = defaultdict(list)
    for slug, spec in sorted(tenants.items()):
        classes[(spec["location"], spec["plan"])].append(slug)
    rows: list[dict[str, Any]] = []
    by_location: dict[str, dict[str, float]] = defaultdict(
        lambda: {"tenants": 0, "monthly_usd": 0.0}
    )
    by_plan: dict[str, dict[str, float]] = defaultdict(lambda: {"tenants": 0, "monthly_usd": 0.0})
    unpriced: set[str] = set()
    for (location, plan_name), slugs in sorted(classes.items()):
        if on_class is not None:
            on_class(location, plan_name)
        estimate = estimate_tenant_plan(plan_of(slugs[0], location, plan_name), snapshot, book)
        per_tenant = estimate["monthly_usd"]
        total = round(per_tenant * len(slugs), 2)
        labels = _unpriced_labels(estimate)
        unpriced.update(f"{location}/{plan_name} {label}" for label in labels)
        rows.append(
            {
                "location": location,
                "plan": plan_name,
                "tenants": len(slugs),
                "per_tenant_usd": per_tenant,
                "monthly_usd": total,
                "complete": estimate["complete"],
                "unpriced": labels,
            }
        )
        for bucket, key in ((by_location, location), (by_plan, plan_name)):
            bucket[key]["tenants"] += len(slugs)
            bucket[key]["monthly_usd"] = round(bucket[key]["monthly_usd"] + total, 2)
    extras: list[dict[str, Any]] = []
    for item in extra:
        estimate = estimate_tenant_plan(item.plan, snapshot, book, item.usage_plan)
        labels = _unpriced_labels(estimate)
        unpriced.update(f"{item.name} {label}" for label in labels)
        extras.append(
            {
                "name": item.name,
                "count": item.count,
                "monthly_usd": round(estimate["monthly_usd"] * item.count, 2),
                "complete": estimate["complete"],
                "unpriced": labels,
            }
        )
    total = round(sum(r["monthly_usd"] for r in rows) + sum(e["monthly_usd"] for e in extras), 2)
    return {
        "monthly_usd": total,
        "complete": not unpriced,
        "tenants": sum(len(s) for s in classes.values()),
        "classes": rows,
        "by_location": dict(sorted(by_location.items())),
        "by_plan": dict(sorted(by_plan.items())),
        "extra": extras,
        "unpriced": sorted(unpriced),
        "prices_date": snapshot.prices_date,
    }
