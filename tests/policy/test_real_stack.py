"""The tenant stack as written keeps every promise, for every location and plan."""

from __future__ import annotations

import pytest

from provisioner.policy import evaluate
from provisioner.policy.rules import RULES
from tests.policy.conftest import ALL_COMBINATIONS, real_plan


@pytest.mark.parametrize(("location", "plan"), ALL_COMBINATIONS)
def test_real_stack_passes_every_rule(location: str, plan: str) -> None:
    report = evaluate(real_plan(location, plan))
    assert report.passed, [(f.rule_id, f.urn, f.message) for f in report.failures]
    assert report.failures == (), "no advisory warnings either"
    assert report.rules_checked == tuple(r.id for r in RULES)
    assert report.resources_checked > 30


def test_backup_destinations_are_the_configured_ones() -> None:
    """The rules saw the two backup modes: a copy vault in another region, an air-gapped one."""
    de = real_plan("de", "trial")
    assert {r["region"] for r in de["resources"]
            if r["type"] == "aws:backup/vault:Vault"} == {"eu-central-1", "eu-west-1"}
    uk = real_plan("uk", "trial")
    assert any(r["type"] == "aws:backup/logicallyAirGappedVault:LogicallyAirGappedVault"
               for r in uk["resources"])
