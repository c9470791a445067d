"""The monthly cost delta of a change, and the per-plan margin gate, for the fleet preview.

The fleet preview knows, per tenant, the plan before the change (base) and after it (head).
`tenant_cost` prices both; `group_cost` sums tenants (a change group, or the whole fleet) into
"+$1,840/month across 212 tenants"; `margin_breaches` names the tenants whose estimate after the
change exceeds the most their plan may cost (`--max-monthly-usd standard=400`), which the
preview reports as danger.

Estimates leave unpriced items out (see provisioner/cost/estimate.py), so a delta is the delta
of what is priced on both sides: a resource that gains or loses an unpriced item (an instance
type with a price replaced by one without) is left out of it rather than shown as a saving;
items a change makes newly unpriced are listed beside it, never counted as zero silently.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from provisioner.cost.estimate import estimate_plan
from provisioner.cost.snapshot import PriceSnapshot, load_snapshot
from provisioner.cost.usage import UsageBook, load_usage
from provisioner.errors import UsageError

TenantCost = dict[str, Any]  # {"before_usd", "after_usd", "delta_usd", "complete", "new_unpriced"}


@functools.cache
def default_pricing() -> tuple[PriceSnapshot, UsageBook]:
    """The snapshot and usage assumptions in force, loaded once per process."""
    return load_snapshot(), load_usage()


@dataclass(frozen=True)
class _Priced:
    """One side's estimate per resource name: priced dollars and the number of unpriced items."""

    total: float
    usd: dict[str, float]
    unpriced_count: dict[str, int]
    unpriced: set[str]


def _priced(
    plan: Mapping[str, Any] | None, plan_name: str, snapshot: PriceSnapshot, book: UsageBook
) -> _Priced:
    if plan is None:
        return _Priced(0.0, {}, {}, set())
    estimate = estimate_plan(plan, snapshot, book.for_plan(plan_name))
    usd: dict[str, float] = {}
    for line in estimate.lines:
        usd[line.resource] = usd.get(line.resource, 0.0) + round(line.monthly_usd, 2)
    counts: dict[str, int] = {}
    for item in estimate.unpriced:
        counts[item.resource] = counts.get(item.resource, 0) + 1
    return _Priced(estimate.monthly_usd, usd, counts,
                   {f"{u.resource}: {u.what}" for u in estimate.unpriced})


def _comparable_delta(before: _Priced, after: _Priced) -> float:
    """The change in priced dollars, resource by resource. A resource on both sides whose number
    of unpriced items changes (t3.large priced, t3.xlarge not) is left out: counting it would
    show its old price as a saving (or a new price as a rise) that nobody can vouch for."""
    seen_before = before.usd.keys() | before.unpriced_count.keys()
    seen_after = after.usd.keys() | after.unpriced_count.keys()
    delta = 0.0
    for name in before.usd.keys() | after.usd.keys():
        on_both = name in seen_before and name in seen_after
        if on_both and before.unpriced_count.get(name, 0) != after.unpriced_count.get(name, 0):
            continue
        delta += after.usd.get(name, 0.0) - before.usd.get(name, 0.0)
    return delta


def tenant_cost(
    base_plan: Mapping[str, Any] | None,
    head_plan: Mapping[str, Any] | None,
    base_plan_name: str,
    head_plan_name: str,
    pricing: tuple[PriceSnapshot, UsageBook] | None = None,
) -> TenantCost:
    """One tenant's monthly estimate before and after a change (None plan: not in that fleet).
    `delta_usd` compares what is priced on both sides (see `_comparable_delta`)."""
    snapshot, book = pricing or default_pricing()
    before = _priced(base_plan, base_plan_name, snapshot, book)
    after = _priced(head_plan, head_plan_name, snapshot, book)
    return {
        "before_usd": before.total if base_plan is not None else None,
        "after_usd": after.total if head_plan is not None else None,
        "delta_usd": round(_comparable_delta(before, after), 2),
        "complete": not after.unpriced,
        "new_unpriced": sorted(after.unpriced - before.unpriced),
    }


def delta_text(delta_usd: float, tenants: int) -> str:
    """'+$1,840/month across 212 tenants' (whole dollars; '$0/month' when nothing moves)."""
    dollars = round(delta_usd)
    sign = "+" if dollars > 0 else "-" if dollars < 0 else "±"
    return f"{sign}${abs(dollars):,}/month across {tenants} tenant{'s' if tenants != 1 else ''}"


def group_cost(costs: Iterable[TenantCost | None]) -> dict[str, Any]:
    """The summed delta of tenants (those without a cost, e.g. unchanged ones, add nothing)."""
    known = [c for c in costs if c is not None]
    delta = round(sum(c["delta_usd"] for c in known), 2)
    new_unpriced = sorted({item for c in known for item in c["new_unpriced"]})
    return {
        "tenants": len(known),
        "before_usd": round(sum(c["before_usd"] or 0.0 for c in known), 2),
        "after_usd": round(sum(c["after_usd"] or 0.0 for c in known), 2),
        "delta_usd": delta,
        "complete": all(c["complete"] for c in known),
        "new_unpriced": new_unpriced,
        "text": delta_text(delta, len(known)),
    }


def parse_margins(values: Sequence[str]) -> dict[str, float]:
    """`["standard=400", "enterprise=2500"]` -> {"standard": 400.0, ...}; UsageError otherwise."""
    from provisioner.plans import PLANS

    margins: dict[str, float] = {}
    for value in values:
        plan, sep, amount = value.partition("=")
        plan = plan.strip().lower()
        if not sep or plan not in PLANS:
            raise UsageError(
                f"--max-monthly-usd {value!r}: use PLAN=USD with a plan of {', '.join(PLANS)}"
            )
        try:
            limit = float(amount)
        except ValueError:
            limit = math.nan
        if not math.isfinite(limit) or limit <= 0:
            raise UsageError(f"--max-monthly-usd {value!r}: the amount must be a number above 0")
        if plan in margins:
            raise UsageError(f"--max-monthly-usd: plan {plan} is given twice")
        margins[plan] = limit
    return margins


def margin_breach(cost: TenantCost | None, plan: str, margins: Mapping[str, float]) -> str | None:
    """Why a tenant's estimate after the change is over its plan's limit, or None."""
    limit = margins.get(plan)
    if cost is None or limit is None or cost["after_usd"] is None or cost["after_usd"] <= limit:
        return None
    bound = "" if cost["complete"] else "at least "
    return (
        f"estimated cost {bound}${cost['after_usd']:,.2f}/month exceeds the {plan} plan's limit"
        f" of ${limit:,.2f}/month (--max-monthly-usd)"
    )


def apply_margin_gate(outcomes: Iterable[dict[str, Any]], margins: Mapping[str, float]) -> None:
    """Add a danger reason to each tenant the change touches whose estimate after it is over its
    plan's limit. Unchanged tenants are left alone: this change does not make them cost more."""
    for outcome in outcomes:
        if outcome.get("status") == "unchanged":
            continue
        reason = margin_breach(outcome.get("cost"), outcome.get("plan", ""), margins)
        if reason is not None and reason not in outcome["danger"]:
            outcome["danger"] = [*outcome["danger"], reason]


def annotate_costs(
    groups: Iterable[dict[str, Any]], outcomes: Iterable[dict[str, Any]]
) -> dict[str, Any]:
    """Each change group's cost delta (`group["cost"]`), and the fleet's (returned)."""
    # Unchanged tenants cost what they cost before: they are not "across N tenants" of a change.
    costs = {o["slug"]: o.get("cost") if o.get("status") != "unchanged" else None for o in outcomes}
    for group in groups:
        group["cost"] = group_cost(costs.get(slug) for slug in group["tenants"])
    return group_cost(costs.values())
