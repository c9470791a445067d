"""The cost delta of a change and the per-plan margin gate (the fleet preview's cost parts)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from provisioner.cost.delta import (
    annotate_costs,
    apply_margin_gate,
    delta_text,
    group_cost,
    margin_breach,
    parse_margins,
    tenant_cost,
)
from provisioner.cost.estimate import estimate_plan
from provisioner.cost.usage import UsageBook
from provisioner.errors import UsageError
from tests.cost.conftest import ALL_REGIONS, make_snapshot

PlanFor = Callable[[str, str], dict[str, Any]]


@pytest.fixture
def pricing(usage_book: UsageBook) -> Any:
    return make_snapshot(ALL_REGIONS), usage_book


def test_a_plan_upgrade_costs_the_difference_of_the_two_estimates(
    plan_for: PlanFor, pricing: Any
) -> None:
    snapshot, book = pricing
    trial, standard = plan_for("us", "trial"), plan_for("us", "standard")
    cost = tenant_cost(trial, standard, "trial", "standard", pricing)
    expected_before = estimate_plan(trial, snapshot, book.for_plan("trial")).monthly_usd
    expected_after = estimate_plan(standard, snapshot, book.for_plan("standard")).monthly_usd
    assert cost["before_usd"] == expected_before and cost["after_usd"] == expected_after
    assert cost["delta_usd"] == round(expected_after - expected_before, 2) > 0
    assert cost["complete"] and cost["new_unpriced"] == []


def test_added_and_removed_tenants_count_their_whole_estimate(
    plan_for: PlanFor, pricing: Any
) -> None:
    plan = plan_for("de", "trial")
    added = tenant_cost(None, plan, "trial", "trial", pricing)
    removed = tenant_cost(plan, None, "trial", "trial", pricing)
    assert added["before_usd"] is None and added["delta_usd"] == added["after_usd"] > 0
    assert removed["after_usd"] is None and removed["delta_usd"] == -added["after_usd"]


def test_a_change_that_adds_an_unpriced_resource_says_so(plan_for: PlanFor, pricing: Any) -> None:
    base = plan_for("us", "trial")
    head = plan_for("us", "trial")
    head["resources"].append(
        {"type": "aws:sns/topic:Topic", "name": "alerts", "region": "us-east-1", "inputs": {}}
    )
    cost = tenant_cost(base, head, "trial", "trial", pricing)
    assert cost["delta_usd"] == 0 and not cost["complete"]
    assert cost["new_unpriced"] == ["alerts: aws:sns/topic:Topic"]
    assert group_cost([cost])["new_unpriced"] == ["alerts: aws:sns/topic:Topic"]


def test_group_cost_sums_tenants_and_writes_the_headline() -> None:
    one = {"before_usd": 10.0, "after_usd": 20.0, "delta_usd": 10.0, "complete": True,
           "new_unpriced": []}  # fmt: skip
    two = {"before_usd": None, "after_usd": 1830.4, "delta_usd": 1830.4, "complete": False,
           "new_unpriced": ["x: y"]}  # fmt: skip
    total = group_cost([one, two, None])
    assert total["tenants"] == 2 and total["delta_usd"] == 1840.4
    assert total["before_usd"] == 10.0 and total["after_usd"] == 1850.4
    assert total["text"] == "+$1,840/month across 2 tenants"
    assert not total["complete"] and total["new_unpriced"] == ["x: y"]


@pytest.mark.parametrize(
    ("delta", "tenants", "text"),
    [
        (1840.0, 212, "+$1,840/month across 212 tenants"),
        (-12.6, 1, "-$13/month across 1 tenant"),
        (0.2, 3, "±$0/month across 3 tenants"),
    ],
)
def test_delta_text(delta: float, tenants: int, text: str) -> None:
    assert delta_text(delta, tenants) == text


def test_margins_parse_and_refuse_bad_values() -> None:
    assert parse_margins(["standard=400", "Enterprise=2500.5"]) == {
        "standard": 400.0,
        "enterprise": 2500.5,
    }
    for bad, message in (
        ("standard", "use PLAN=USD"),
        ("gold=3", "use PLAN=USD"),
        ("trial=-1", "above 0"),
        ("trial=abc", "above 0"),
        ("trial=nan", "above 0"),
    ):
        with pytest.raises(UsageError, match=message):
            parse_margins([bad])
    with pytest.raises(UsageError, match="given twice"):
        parse_margins(["trial=1", "trial=2"])


def test_the_margin_gate_flags_only_estimates_above_the_plan_limit() -> None:
    cost = {"before_usd": 100.0, "after_usd": 450.0, "delta_usd": 350.0, "complete": False,
            "new_unpriced": ["a: b"]}  # fmt: skip
    reason = margin_breach(cost, "standard", {"standard": 400.0})
    assert reason is not None
    assert "at least $450.00/month exceeds the standard plan's limit of $400.00" in reason
    assert margin_breach(cost, "standard", {"standard": 450.0}) is None  # at the limit: fine
    assert margin_breach(cost, "trial", {"standard": 400.0}) is None  # no limit for trial
    assert margin_breach(None, "standard", {"standard": 1.0}) is None  # unchanged tenant
    removed = {**cost, "after_usd": None}
    assert margin_breach(removed, "standard", {"standard": 1.0}) is None


def test_the_gate_and_the_sums_leave_unchanged_tenants_out() -> None:
    over = {"before_usd": 500.0, "after_usd": 500.0, "delta_usd": 0.0, "complete": True,
            "new_unpriced": []}  # fmt: skip
    up = {**over, "before_usd": 100.0, "delta_usd": 400.0}
    outcomes: list[dict[str, Any]] = [
        {"slug": "a", "plan": "standard", "status": "unchanged", "danger": [], "cost": over},
        {"slug": "b", "plan": "standard", "status": "changed", "danger": [], "cost": up},
    ]
    apply_margin_gate(outcomes, {"standard": 400.0})
    assert outcomes[0]["danger"] == [] and len(outcomes[1]["danger"]) == 1
    groups: list[dict[str, Any]] = [{"tenants": ["b"]}]
    fleet = annotate_costs(groups, outcomes)
    assert fleet["tenants"] == 1 and fleet["delta_usd"] == 400.0
    assert groups[0]["cost"]["text"] == "+$400/month across 1 tenant"


def test_a_resource_whose_new_price_is_unknown_is_no_saving(plan_for: PlanFor) -> None:
    """t3.large has a price in us-east-1 and t3.xlarge none: the upsized server must not show
    as "-$61/month" (its old price dropped); it is left out of the delta and named unpriced."""
    from provisioner.cost.snapshot import load_snapshot
    from provisioner.cost.usage import load_usage

    base = plan_for("us", "standard")
    head = plan_for("us", "standard")
    server = next(r for r in head["resources"] if r["type"] == "aws:ec2/instance:Instance")
    assert server["inputs"]["instanceType"] == "t3.large"
    server["inputs"]["instanceType"] = "t3.xlarge"
    pricing = (load_snapshot(), load_usage())
    cost = tenant_cost(base, head, "standard", "standard", pricing)
    assert cost["after_usd"] < cost["before_usd"], "the shipped snapshot prices t3.large only"
    assert cost["delta_usd"] == 0
    assert [i for i in cost["new_unpriced"] if "t3.xlarge" in i]
