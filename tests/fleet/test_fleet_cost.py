"""Cost in the fleet preview: the monthly delta per change group and for the fleet, and the
per-plan margin gate (--max-monthly-usd) that makes a change dangerous."""

from __future__ import annotations

from pathlib import Path

from provisioner.cost.delta import delta_text, tenant_cost
from provisioner.cost.fleet import synth_plan_of
from tests.fleet.conftest import Run, commit, edit


def _upgrade_gamma(repo: Path) -> float:
    """gamma (us) moves from trial to standard; returns the estimated monthly delta."""
    edit(repo / "tenants.yaml", "{slug: gamma, location: us, plan: trial}",
         "{slug: gamma, location: us, plan: standard}")  # fmt: skip
    commit(repo, "gamma upgrades")
    cost = tenant_cost(synth_plan_of("gamma", "us", "trial"),
                       synth_plan_of("gamma", "us", "standard"), "trial", "standard")  # fmt: skip
    assert cost["delta_usd"] > 0
    return float(cost["delta_usd"])


def test_the_report_and_comment_show_the_monthly_cost_delta(repo: Path, run_fleet: Run) -> None:
    delta = _upgrade_gamma(repo)
    code, report, _ = run_fleet(repo, "--detailed-exitcode", base="HEAD~1")
    (group,) = report["groups"]
    # A trial converting changes no Vault Lock (their range is the same for every plan): a
    # change, nothing dangerous.
    assert code == 4 and group["danger"] == [], group["danger"]
    assert group["tenants"] == ["gamma"]
    assert group["cost"]["delta_usd"] == delta and group["cost"]["tenants"] == 1
    fleet = report["summary"]["cost"]
    assert fleet["delta_usd"] == delta and fleet["text"] == delta_text(delta, 1)
    _, markdown, _ = run_fleet(repo, base="HEAD~1", output="markdown")
    newly = (
        f"; {len(fleet['new_unpriced'])} item(s) newly unpriced" if fleet["new_unpriced"] else ""
    )
    assert f"Monthly cost (on-demand estimate, priced parts only{newly}): **{fleet['text']}**" in (
        markdown
    )
    assert f"us · standard · {group['cost']['text']}" in markdown


def test_a_tenant_over_its_plan_limit_makes_the_change_dangerous(
    repo: Path, run_fleet: Run
) -> None:
    _upgrade_gamma(repo)
    code, report, _ = run_fleet(
        repo, "--detailed-exitcode", "--max-monthly-usd", "standard=1", base="HEAD~1"
    )
    assert code == 5
    (group,) = report["groups"]
    assert group["dangerous"] and any(
        "standard plan's limit of $1.00" in d for d in group["danger"]
    )
    # A limit the estimate stays under changes nothing; a bad limit is a usage error.
    code, report, _ = run_fleet(
        repo, "--detailed-exitcode", "--max-monthly-usd", "standard=100000", base="HEAD~1"
    )
    (group,) = report["groups"]
    assert code == 4 and group["danger"] == [], group["danger"]
    code, _, stderr = run_fleet(repo, "--max-monthly-usd", "gold=5", base="HEAD~1")
    assert code == 2 and "use PLAN=USD" in stderr
