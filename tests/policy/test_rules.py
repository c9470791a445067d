"""Every rule against mutated real plans: each change that breaks a promise must fail the rule
(naming the resource), and each near miss must pass it."""

from __future__ import annotations

import pytest

from provisioner.policy import evaluate
from provisioner.policy.model import Severity
from provisioner.policy.rules import RULES
from tests.policy.cases import CASES as BASE_CASES
from tests.policy.cases import Case
from tests.policy.cases_hardening import CASES as HARDENING_CASES
from tests.policy.conftest import real_plan
from tests.policy.helpers import findings

CASES = [*BASE_CASES, *HARDENING_CASES]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_mutation(case: Case) -> None:
    plan = real_plan(case.base, "standard")
    assert not findings(plan, case.rule), "the unmutated plan must pass the rule"
    urn = case.mutate(plan)
    found = findings(plan, case.rule)
    if not case.fails:
        assert found == [], [f.message for f in found]
        return
    assert found, f"{case.rule} missed: {case.label}"
    assert all(f.rule_id == case.rule for f in found)
    assert not any(f.message.startswith("could not check") for f in found)
    if urn is not None:
        assert urn in {f.urn for f in found}, [(f.urn, f.message) for f in found]


def test_every_rule_has_a_failing_and_a_passing_mutation() -> None:
    failing = {c.rule for c in CASES if c.fails}
    passing = {c.rule for c in CASES if not c.fails}
    ids = {r.id for r in RULES}
    assert ids - failing == set()
    assert ids - passing == set()
    assert (failing | passing) - ids == set(), "cases name a rule that does not exist"


def test_a_mandatory_failure_fails_the_report_and_an_advisory_one_only_warns() -> None:
    plan = real_plan("de", "standard")
    lb = next(r for r in plan["resources"] if r["type"] == "aws:lb/loadBalancer:LoadBalancer")
    lifecycle = next(r for r in plan["resources"] if r["type"].endswith(
        "bucketLifecycleConfiguration:BucketLifecycleConfiguration"))
    lifecycle["inputs"]["rules"] = []  # LOG-005, advisory
    report = evaluate(plan)
    assert report.passed
    assert {f.rule_id for f in report.warnings} == {"LOG-005"}
    lb["inputs"]["accessLogs"]["enabled"] = False  # LOG-001, mandatory
    report = evaluate(plan)
    assert not report.passed
    assert report.failed_rule_ids() == ["LOG-001"]
    assert report.failures[0].severity is Severity.mandatory
    assert report.failures[-1].severity is Severity.advisory
    data = report.to_dict()
    assert data["passed"] is False
    assert data["failures"][0]["rule_id"] == "LOG-001"
    assert data["failures"][0]["urn"] == lb["urn"]


def test_a_rule_that_meets_an_unexpected_shape_fails_instead_of_crashing() -> None:
    plan = real_plan("de", "standard")
    backup_plan = next(r for r in plan["resources"] if r["type"] == "aws:backup/plan:Plan")
    backup_plan["inputs"]["rules"] = "daily please"
    report = evaluate(plan)
    assert not report.passed
    assert "BAK-001" in report.failed_rule_ids()
