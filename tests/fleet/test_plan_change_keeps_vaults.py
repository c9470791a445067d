"""A tenant changing plan (a trial converting, standard to enterprise, free to standard in the
single-region jurisdictions) keeps every backup vault and every Vault Lock: the fleet diff of
its two plans replaces or deletes none of them, and marks nothing dangerous."""

from __future__ import annotations

import dataclasses
from functools import cache
from typing import Any

import pytest

from provisioner.fleet.outcome import tenant_outcome
from provisioner.spec import TenantSpec
from provisioner.synth import synth_plan

VAULT = "aws:backup/vault:Vault"
AIR_GAPPED = "aws:backup/logicallyAirGappedVault:LogicallyAirGappedVault"
LOCK = "aws:backup/vaultLockConfiguration:VaultLockConfiguration"
KEPT = (VAULT, AIR_GAPPED, LOCK)

# (location, plan before, plan after, built before the backup account)
CHANGES = [
    ("de", "trial", "standard", False),
    ("de", "standard", "enterprise", False),
    ("us", "trial", "standard", False),
    ("uk", "trial", "standard", False),
    ("uk", "standard", "enterprise", False),
    ("uk", "free", "standard", False),
    ("sg", "free", "standard", False),
    ("sg", "standard", "enterprise", False),
    # Still keeping its old in-account air-gapped vault, whose range was the old plan's.
    ("uk", "free", "standard", True),
    ("sg", "trial", "enterprise", True),
]


@cache
def _plan(location: str, plan: str, legacy: bool) -> dict[str, Any]:
    spec = TenantSpec.create("acme", location, plan)
    return synth_plan(dataclasses.replace(spec, legacy_backup=legacy))


def _spec(location: str, plan: str, legacy: bool) -> dict[str, str]:
    spec = {"slug": "acme", "location": location, "plan": plan}
    return {**spec, "legacy_backup": "true"} if legacy else spec


def _outcome(location: str, before: str, after: str, legacy: bool,
             head: dict[str, Any] | None = None) -> dict[str, Any]:
    return tenant_outcome(
        "acme", _spec(location, before, legacy), _spec(location, after, legacy),
        {"plan": _plan(location, before, legacy)},
        {"plan": head if head is not None else _plan(location, after, legacy)},
    )


@pytest.mark.parametrize(("location", "before", "after", "legacy"), CHANGES,
                         ids=[f"{c[0]}-{c[1]}-to-{c[2]}{'-legacy' if c[3] else ''}"
                              for c in CHANGES])
def test_a_plan_change_replaces_or_deletes_no_vault_and_no_lock(
    location: str, before: str, after: str, legacy: bool,
) -> None:
    outcome = _outcome(location, before, after, legacy)
    touched = [(action, entry["type"], entry["name"])
               for action in ("replace", "delete") for entry in outcome["changes"][action]
               if entry["type"] in KEPT]
    assert touched == []
    assert outcome["danger"] == []
    # Updated in place at most for their tags (which name the plan).
    assert {c["path"].split(".")[0] for entry in outcome["changes"]["update"]
            if entry["type"] in KEPT for c in entry["changes"]} <= {"tags", "tagsAll"}
    # Not a vacuous comparison: the plan's own retention reaches the backup plan's lifecycle.
    updated = {entry["name"]: entry for entry in outcome["changes"]["update"]}
    paths = {c["path"] for c in updated["backup-plan"]["changes"]}
    assert "rules[0].lifecycle.deleteAfter" in paths
    assert "rules[0].copyActions[0].lifecycle.deleteAfter" in paths


def test_a_range_per_plan_would_be_marked_dangerous() -> None:
    """The check above can fail: the previous program's lock and air-gapped range followed
    the plan, and the same diff marks both."""
    head = _plan("uk", "standard", False)
    per_plan = {**head, "resources": [dict(r, inputs=dict(r["inputs"]))
                                      for r in head["resources"]]}
    for resource in per_plan["resources"]:
        if resource["type"] in (LOCK, AIR_GAPPED):
            resource["inputs"]["minRetentionDays"] = 14.0
    danger = _outcome("uk", "free", "standard", False, head=per_plan)["danger"]
    assert any(d.startswith("replaces backup vault lock backup-vault-lock") for d in danger)
    assert any(d.startswith("replaces backup vault backup-account-air-gapped-vault")
               for d in danger)
