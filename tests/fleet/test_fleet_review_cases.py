"""What a pull-request reviewer tripped on (issue 12), each in a temporary git repository:
aliases followed both for a resource and through a component (and a component's type), a
location move refused, a major engine upgrade dangerous, one group across locations, a parent
path shown when a component changes type, every tenants-file error at once, and a fleet where
nothing can be planned."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from provisioner.errors import UsageError
from provisioner.fleet.planner import FleetOptions, fleet_changes
from tests.fleet.conftest import Run, edit, git

DATABASE = "stacks/components/database.py"
TENANT = "stacks/tenant_stack.py"
DB_OPTS = "opts=self.child(depends_on=list(log_groups)),"
DB_COMPONENT_OPTS = """            log_groups=logs.db_groups,
            monitoring_role_arn=monitoring.role.arn,
            opts=child,"""


def _rename_instance(repo: Path, alias: bool) -> None:
    edit(repo / DATABASE, 'f"{name}-instance",\n            identifier=identifier,',
         'f"{name}-primary",\n            identifier=identifier,')
    if alias:
        edit(repo / DATABASE, DB_OPTS, 'opts=self.child(depends_on=list(log_groups),'
             ' aliases=[pulumi.Alias(name=f"{name}-instance")]),')


def test_a_resource_renamed_with_an_alias_is_no_change_and_without_one_a_deletion(
    repo: Path, run_fleet: Run
) -> None:
    _rename_instance(repo, alias=True)
    code, report, _ = run_fleet(repo, "--detailed-exitcode")
    # Same resource to Pulumi, and nothing referencing it (backup selection, user data, IAM)
    # changes: the mock's ids and ARNs come from the identity the alias resolves to.
    assert code == 0, report["groups"]
    assert report["program_changed"] is True
    assert report["summary"]["tenants"]["unchanged"] == 5
    edit(repo / DATABASE, ', aliases=[pulumi.Alias(name=f"{name}-instance")])', ")")
    code, report, _ = run_fleet(repo, "--detailed-exitcode")
    assert code == 5
    assert any("deletes database database-instance" in r for r in report["groups"][0]["danger"])


def test_a_component_renamed_with_an_alias_carries_its_children_along(
    repo: Path, run_fleet: Run
) -> None:
    # Children are named after the component ("database-instance" -> "db-instance"): their
    # URNs change twice (parent and name) and only the parent's alias, inherited, matches them.
    edit(repo / TENANT, 'database = Database(\n            "database",',
         'database = Database(\n            "db",')
    edit(repo / TENANT, DB_COMPONENT_OPTS, """            log_groups=logs.db_groups,
            monitoring_role_arn=monitoring.role.arn,
            opts=pulumi.ResourceOptions(parent=self, aliases=[pulumi.Alias(name="database")]),""")
    code, report, _ = run_fleet(repo, "--detailed-exitcode")
    assert code == 0, report["groups"]
    edit(repo / TENANT, 'aliases=[pulumi.Alias(name="database")]', "aliases=[]")
    code, report, _ = run_fleet(repo, "--detailed-exitcode")
    assert code == 5
    changes = report["groups"][0]["changes"]
    assert {e["name"] for e in changes["delete"]} >= {"database-instance", "database-subnets"}
    assert {e["name"] for e in changes["create"]} >= {"db-instance", "db-subnets"}


def test_a_component_type_change_shows_the_parent_path_and_an_alias_makes_it_no_change(
    repo: Path, run_fleet: Run
) -> None:
    edit(repo / DATABASE, 'super().__init__("Database", name, spec, opts)',
         'super().__init__("PrimaryDatabase", name, spec, opts)')
    code, markdown, _ = run_fleet(repo, "--detailed-exitcode", output="markdown")
    assert code == 5
    # Same name and type deleted and created: the rows say which parent changed.
    assert "`database-instance` <sub>under Tenant/Database</sub>" in markdown
    assert "`database-instance` <sub>under Tenant/PrimaryDatabase</sub>" in markdown
    edit(repo / TENANT, DB_COMPONENT_OPTS, """            log_groups=logs.db_groups,
            monitoring_role_arn=monitoring.role.arn,
            opts=pulumi.ResourceOptions(
                parent=self, aliases=[pulumi.Alias(type_="provisioner:tenant:Database")]),""")
    code, report, _ = run_fleet(repo, "--detailed-exitcode")
    assert code == 0, report["groups"]


def test_a_tenant_moving_location_is_refused_naming_both_places_and_jurisdictions(
    repo: Path, run_fleet: Run
) -> None:
    edit(repo / "tenants.yaml", "{slug: acme, location: de, plan: standard}",
         "{slug: acme, location: us, plan: standard}")
    code, report, _ = run_fleet(repo, "--detailed-exitcode")
    assert code == 5
    assert report["tenants"]["acme"]["status"] == "refused"
    (group,) = [g for g in report["groups"] if g["tenants"] == ["acme"]]
    (reason,) = group["danger"]
    assert "de (eu-central-1, EU jurisdiction)" in reason
    assert "us (us-east-1, US jurisdiction)" in reason
    assert "leave the EU jurisdiction for the US jurisdiction" in reason
    assert group["counts"] == {"create": 0, "update": 0, "replace": 0, "delete": 0}
    code, markdown, _ = run_fleet(repo, output="markdown")
    assert code == 1  # a mandatory failure fails the job even without --detailed-exitcode
    assert markdown.index("**Error:** `refused: tenant acme moves from de") < markdown.index(
        "| Tenants |")


def test_a_slug_removed_and_added_again_elsewhere_in_one_change_is_refused(
    repo: Path, run_fleet: Run
) -> None:
    tenants = (repo / "tenants.yaml").read_text()
    (repo / "tenants.yaml").write_text(
        tenants.replace("  - {slug: gamma, location: us, plan: trial}\n", ""))
    git(repo, "commit", "-q", "-a", "-m", "gamma leaves")  # our test repository
    again = "  - {slug: gamma, location: ap-south-1, plan: trial}\n"
    (repo / "tenants.yaml").write_text((repo / "tenants.yaml").read_text() + again)
    git(repo, "commit", "-q", "-a", "-m", "gamma signs up again, in India")
    code, report, _ = run_fleet(repo, "--detailed-exitcode", base="HEAD~2")
    assert code == 5
    assert report["tenants"]["gamma"]["status"] == "refused"
    (reason,) = next(g for g in report["groups"] if g["tenants"] == ["gamma"])["danger"]
    assert "us (us-east-1, US jurisdiction)" in reason
    assert "in (ap-south-1, IN jurisdiction)" in reason
    # The same through the library entry point rollouts use, with specs instead of a file.
    specs = {"gamma": {"slug": "gamma", "location": "us", "plan": "trial"}}
    options = FleetOptions(repo=repo, base="HEAD", cache_dir=None)
    report, _ = fleet_changes(options, specs,
                              {"gamma": {"slug": "gamma", "location": "uk", "plan": "trial"}})
    assert report["groups"][0]["status"] == "refused"
    with pytest.raises(UsageError, match="head spec gamma: tenant gamma: unknown location 'mars'"):
        fleet_changes(options, specs, {"gamma": {"slug": "gamma", "location": "mars",
                                                 "plan": "trial"}})


def test_a_major_engine_upgrade_is_dangerous_even_as_an_in_place_update(
    repo: Path, run_fleet: Run
) -> None:
    path = repo / DATABASE

    def engine(version: str, family: str) -> None:
        text = re.sub(r'ENGINE_VERSION = "[^"]*"', f'ENGINE_VERSION = "{version}"',
                      path.read_text())
        path.write_text(re.sub(r'PARAMETER_FAMILY = "[^"]*"', f'PARAMETER_FAMILY = "{family}"',
                               text))

    engine("8.4", "mysql8.4")
    git(repo, "commit", "-q", "-a", "--allow-empty", "-m", "MySQL 8.4")  # our test repository
    engine("8.4.5", "mysql8.4")  # a minor upgrade: an ordinary update
    code, report, _ = run_fleet(repo, "--detailed-exitcode")
    assert code == 4, report["groups"]
    engine("8.0", "mysql8.0")
    git(repo, "commit", "-q", "-a", "-m", "MySQL 8.0")
    engine("8.4", "mysql8.4")
    code, report, _ = run_fleet(repo, "--detailed-exitcode")
    assert code == 5
    group = report["groups"][0]
    updated = {e["name"] for e in group["changes"]["update"]}
    assert "database-instance" in updated  # Pulumi updates it in place...
    (reason,) = [r for r in group["danger"] if "database-instance" in r]
    assert "from MySQL 8.0 to 8.4" in reason  # ...but it is dangerous, and says why
    # The program sets allowMajorVersionUpgrade (without it RDS refuses the change): the reason
    # says so, and that the upgrade cannot be undone.
    assert "allowMajorVersionUpgrade is set" in reason
    assert "cannot be undone" in reason


def test_the_same_change_in_several_locations_is_one_group(repo: Path, run_fleet: Run) -> None:
    # The added line names each tenant's region: de and us tenants differ only by it.
    edit(repo / "templates/user_data.sh.j2", "CRM_REGION={{ region }}\n",
         "CRM_REGION={{ region }}\nCRM_AWS_REGION={{ region }}\n")
    code, report, _ = run_fleet(repo, "--detailed-exitcode")
    assert code == 4
    (group,) = report["groups"]
    assert group["count"] == 5 and group["locations"] == ["de", "us"]
    (change,) = group["changes"]["update"][0]["changes"]
    assert change["diff"] == ["+CRM_AWS_REGION={region}"]
    code, markdown, _ = run_fleet(repo, output="markdown")
    assert "#### 5 tenants change: 1 to update · de, us" in markdown
    # Resources, as the summary table counts them; not property rows.
    assert "1 resource changes in each tenant" in markdown


def test_every_tenants_file_error_is_reported_at_once_before_planning(
    repo: Path, run_fleet: Run, tmp_path: Path
) -> None:
    (repo / "tenants.yaml").write_text(
        "tenants:\n"
        "  - {slug: acme, location: mars, plan: standard}\n"
        "  - {slug: beta, location: de, plan: platinum}\n"
        "  - {slug: Bad!, location: de, plan: free}\n"
        "  - {slug: acme, location: us, plan: free}\n"
        "  - {slug: delta, location: de}\n"
        "  - {slug: gamma, location: us, plan: trial, size: xl}\n"
    )
    cache = tmp_path / "fresh-cache"
    code, _, stderr = run_fleet(repo, "--cache-dir", str(cache))
    assert code == 2
    lines = stderr.strip().splitlines()
    assert lines[0] == "error: tenants.yaml has 6 errors:"
    assert [line.split(":")[1] for line in lines[1:]] == ["2", "3", "4", "5", "6", "7"]
    assert "tenant acme: unknown location 'mars'" in lines[1]
    assert "tenant beta: unknown plan 'platinum'" in lines[2]
    assert "not a DNS label" in lines[3]
    assert "listed twice (first on line 2)" in lines[4]
    assert "lacks plan" in lines[5]
    assert "unknown field 'size'" in lines[6]
    assert not (cache / "plans").exists()  # nothing was planned


def test_when_no_tenant_can_be_planned_the_comment_leads_with_the_error(
    repo: Path, run_fleet: Run
) -> None:
    edit(repo / DATABASE, "        plan = spec.plan\n",
         "        plan = spec.plan\n        raise RuntimeError('database settings unreadable')\n")
    code, markdown, _ = run_fleet(repo, output="markdown")
    assert code == 1
    assert "### Fleet plan: ⚠️ 0 planned, 5 failed\n" in markdown
    assert markdown.index("**Error:** `planning fails: RuntimeError: database settings"
                          " unreadable at stacks/components/database.py:") < markdown.index(
        "| Tenants |")
    assert str(repo) not in markdown and "/tmp/" not in markdown
    code, report, _ = run_fleet(repo)
    assert report["summary"]["tenants"]["error"] == 5
    assert str(repo) not in str(report)
