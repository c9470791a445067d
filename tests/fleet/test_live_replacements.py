"""The update of a live tenant from the last released program (0ed8cbf) to this one replaces or
deletes only what it must, each for a reason the README's transition table explains.

The old program's plan is stored (`fixtures/plan-0ed8cbf-acme-us-standard.json`, made by
`provisioner plan acme --location us --plan standard -o json` at 0ed8cbf) rather than planned
from a temporary checkout at test time; the new side is this program's plan of the same tenant
as the registry flags it (`legacy_backup`: every stack built before this wave). Pulumi matches
resources by URN, so the diff is the one `fleet plan --base 0ed8cbf` shows for such a tenant.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest

from provisioner.fleet.diff import diff_plans
from provisioner.spec import TenantSpec
from provisioner.synth import synth_plan

ROOT = Path(__file__).resolve().parents[2]
OLD_PLAN = Path(__file__).parent / "fixtures" / "plan-0ed8cbf-acme-us-standard.json"

# Every replacement the update may make, with the input that forces it. Each is inherent to
# this wave (see the README's transition table for why it is safe on a live tenant); anything
# else (e.g. a changed security group description, a parameter group replaced in place) is an
# avoidable replacement of a live resource and fails here.
INHERENT_REPLACEMENTS = {
    # The key policy names the tenant's roles before they exist: fixed names.
    "compute-role": ["name"],
    "backup-role": ["name"],
    "backup-role-0": ["role"],
    "backup-role-1": ["role"],
    # AWS Backup has no update for a selection: the new role is a new selection.
    "backup-selection": ["iamRoleArn", "name"],
    # The mail load balancer shares the web certificate: one more name on it.
    "edge-certificate": ["subjectAlternativeNames"],
    "edge-certificate-validation": ["validationRecordFqdns"],
}
# Deletions: the old app role's grants this wave takes away on purpose.
INTENDED_DELETIONS = {
    "compute-own-secret-and-key",  # the master secret is the platform's alone now
    "compute-ssm",  # AmazonSSMManagedInstanceCore (ssm:GetParameter on *), scoped statements now
}


@pytest.fixture(scope="module")
def old_plan() -> dict[str, Any]:
    return json.loads(OLD_PLAN.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def new_plan() -> dict[str, Any]:
    spec = TenantSpec.create("acme", "us", "standard")
    return synth_plan(dataclasses.replace(spec, legacy_backup=True))


@pytest.fixture(scope="module")
def changes(old_plan: dict[str, Any], new_plan: dict[str, Any]) -> dict[str, list[Any]]:
    return diff_plans(old_plan, new_plan)


def _by_name(plan: dict[str, Any], name: str) -> dict[str, Any]:
    return next(r for r in plan["resources"] if r["name"] == name)


def test_the_fixture_is_the_old_program_of_the_same_tenant(old_plan: dict[str, Any]) -> None:
    assert old_plan["program"] == "0ed8cbf"
    assert (old_plan["tenant"]["slug"], old_plan["tenant"]["location"]) == ("acme", "us")
    assert _by_name(old_plan, "database-params")["inputs"]["family"] == "mysql8.0"


def test_only_inherent_replacements_of_live_resources(changes: dict[str, list[Any]]) -> None:
    replaced = {c["name"]: sorted(c["reasons"]) for c in changes["replace"]}
    avoidable = {n: r for n, r in replaced.items()
                 if n not in INHERENT_REPLACEMENTS or set(r) - set(INHERENT_REPLACEMENTS[n])}
    assert avoidable == {}, f"avoidable replacement of a live resource: {avoidable}"
    # ...and the table above is not stale: each inherent one still happens.
    assert set(replaced) == set(INHERENT_REPLACEMENTS)


def test_only_intended_deletions(changes: dict[str, list[Any]]) -> None:
    assert {c["name"] for c in changes["delete"]} == INTENDED_DELETIONS


def test_the_app_security_group_is_updated_in_place(changes: dict[str, list[Any]]) -> None:
    """Its description is kept (a new one would replace the group attached to the server and
    named by the database's rule); the mail rules are in-place ingress updates."""
    updated = {c["name"]: {ch["path"] for ch in c["changes"]} for c in changes["update"]}
    assert updated["network-app-sg"] == {"ingress"}


def test_the_mysql80_group_stays_until_the_upgrade_has_left_it(
    old_plan: dict[str, Any], new_plan: dict[str, Any], changes: dict[str, list[Any]]
) -> None:
    """The 8.0 group is kept unchanged (RDS moves the instance off it only in the maintenance
    window); the instance moves to a new 8.4 group under its own logical name."""
    assert _by_name(new_plan, "database-params")["inputs"] == (
        _by_name(old_plan, "database-params")["inputs"])
    assert "database-params" not in {c["name"] for key in ("update", "replace", "delete")
                                     for c in changes[key]}
    created = {c["name"] for c in changes["create"]}
    assert "database-params-mysql84" in created
    instance = _by_name(new_plan, "database-instance")["inputs"]
    assert instance["parameterGroupName"].startswith("database-params-mysql84")
    assert _by_name(new_plan, "database-params-mysql84")["inputs"]["family"] == "mysql8.4"


def test_a_tenant_built_by_this_program_has_no_mysql80_group() -> None:
    names = {r["name"] for r in synth_plan(TenantSpec.create("acme", "us", "standard"))
             ["resources"]}
    assert "database-params-mysql84" in names and "database-params" not in names


def test_the_readme_explains_each_remaining_replacement_and_deletion() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("**Updating a tenant built before this wave**", 1)[1]
    section = section.split("\n\n**", 1)[0]
    first_cells = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    rows = {name for cell in first_cells for name in re.findall(r"`([a-z0-9-]+)`", cell)}
    assert set(INHERENT_REPLACEMENTS) | INTENDED_DELETIONS | {"database-params"} <= rows
