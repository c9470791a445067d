"""`provisioner fleet plan` end to end, in a temporary git repository: each kind of change
gives the right report, markdown and exit code (--detailed-exitcode: 0 / 4 / 5)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from provisioner.paths import PROJECT_ROOT
from tests.fleet.conftest import Run, commit, edit, make_repo

DB_NAME = "stacks/components/observability.py"  # where the database identifier is derived


def test_no_change_exits_0_and_reports_every_tenant_unchanged(repo: Path, run_fleet: Run) -> None:
    code, report, _ = run_fleet(repo, "--detailed-exitcode")
    assert code == 0
    assert report["changed"] is False and report["dangerous"] is False
    assert report["program_changed"] is False
    assert report["summary"]["tenants"]["unchanged"] == 5
    assert report["groups"] == []
    code, markdown, _ = run_fleet(repo, "--detailed-exitcode", output="markdown")
    assert code == 0
    assert markdown.startswith("<!-- provisioner-fleet-plan -->\n")
    assert "no changes to 5 tenants" in markdown


def test_a_program_input_change_groups_identical_updates_and_exits_4(
    repo: Path, run_fleet: Run
) -> None:
    edit(repo / "templates/user_data.sh.j2", "mkdir -p /srv/crm\n", "mkdir -p /srv/crm /srv/x\n")
    commit(repo, "one more directory")
    code, report, _ = run_fleet(repo, "--detailed-exitcode", base="HEAD~1")
    assert code == 4
    assert report["program_changed"] is True and report["dangerous"] is False
    assert report["summary"]["resources"] == {"create": 0, "update": 5, "replace": 0, "delete": 0}
    # Five tenants in two regions and two plans: one identical change once the slug is out.
    (group,) = report["groups"]
    assert group["count"] == 5 and group["status"] == "changed"
    (update,) = group["changes"]["update"]
    assert update["name"] == "compute-server"
    (change,) = update["changes"]
    assert change["path"] == "userData"
    assert change["diff"] == ["-mkdir -p /srv/crm", "+mkdir -p /srv/crm /srv/x"]
    assert "{slug}" in change["after"]  # a group of many shows the slug as a placeholder
    # Without --detailed-exitcode a successful plan exits 0 whatever it finds.
    code, markdown, _ = run_fleet(repo, base="HEAD~1", output="markdown")
    assert code == 0
    assert "5 tenants change: 1 to update" in markdown
    assert "Dangerous" not in markdown
    assert "+mkdir -p /srv/crm /srv/x" in markdown


def test_a_change_forcing_database_replacement_is_dangerous_and_exits_5(
    repo: Path, run_fleet: Run
) -> None:
    edit(repo / DB_NAME, 'return f"{spec.resource_prefix}-db"',
         'return f"{spec.resource_prefix}-database"')
    code, report, _ = run_fleet(repo, "--detailed-exitcode")
    assert code == 5
    assert report["dangerous"] is True
    assert report["summary"]["tenants"]["dangerous"] == 5
    group = report["groups"][0]
    assert group["dangerous"] and group["count"] == 4  # de/standard; us/trial differs in plan
    replaced = {e["name"]: e for e in group["changes"]["replace"]}
    assert replaced["database-instance"]["reasons"] == ["identifier"]
    assert any("replaces database database-instance (identifier changed)" in r
               for r in group["danger"])
    code, markdown, _ = run_fleet(repo, "--detailed-exitcode", output="markdown")
    assert code == 5
    assert markdown.index("## ⚠️ Dangerous changes") < markdown.index("forces replacement")


def test_tenants_added_and_removed_put_the_deletion_first(
    repo: Path, run_fleet: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Outcomes in forked worker processes (what large fleets get) give the same report.
    monkeypatch.setattr("provisioner.fleet.compute.PARALLEL_MIN", 2)
    tenants = (repo / "tenants.yaml").read_text()
    tenants = tenants.replace("  - {slug: beta, location: de, plan: standard}\n", "")
    tenants += "  - {slug: zeta, location: jp, plan: free}\n"
    tenants = tenants.replace("{slug: gamma, location: us, plan: trial}",
                              "{slug: gamma, location: us, plan: free}")
    (repo / "tenants.yaml").write_text(tenants)
    commit(repo, "beta leaves, zeta joins, gamma converts")
    code, report, _ = run_fleet(repo, "--detailed-exitcode", base="HEAD~1")
    assert code == 5  # removing a tenant deletes its database, volume, key and vaults
    statuses = {slug: t["status"] for slug, t in report["tenants"].items()}
    assert statuses["beta"] == "removed" and statuses["zeta"] == "added"
    assert statuses["gamma"] == "changed"  # the same tenant planned with its old and new spec
    assert report["summary"]["tenants"]["unchanged"] == 3
    removed, gamma, added = report["groups"]
    assert gamma["tenants"] == ["gamma"] and not gamma["dangerous"]
    assert {c["path"] for e in gamma["changes"]["update"] for c in e["changes"]} >= {"tags.plan"}
    assert removed["tenants"] == ["beta"] and removed["dangerous"]
    assert "deletes database database-instance" in removed["danger"]
    # Locked vaults are retained on delete: released from the stack, not deleted.
    assert "deletes backup vault backup-vault" not in removed["danger"]
    assert any(n.startswith("releases backup vault backup-vault") for n in removed["notes"])
    assert added["tenants"] == ["zeta"] and not added["dangerous"]
    assert added["counts"]["create"] == len(added["changes"]["create"]) > 30
    _, markdown, _ = run_fleet(repo, base="HEAD~1", output="markdown")
    assert markdown.index("`beta`") < markdown.index("## Changes") < markdown.index(
        "`gamma`") < markdown.index("`zeta`")


def test_a_policy_breaking_change_is_dangerous_even_as_a_plain_update(
    repo: Path, run_fleet: Run
) -> None:
    edit(repo / "provisioner/promises.py", 'TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-Res-2021-06"',
         'TLS_POLICY = "ELBSecurityPolicy-2016-08"')
    code, report, _ = run_fleet(repo, "--detailed-exitcode")
    assert code == 5
    assert report["summary"]["resources"]["replace"] == 0
    (group,) = report["groups"]
    assert group["count"] == 5 and group["dangerous"]
    assert group["policy"]["failures"], "the weak TLS policy must fail a rule"
    assert all(f["new"] for f in group["policy"]["failures"])
    assert any(r.startswith("policy ") and "(new)" in r for r in group["danger"])


def test_a_warm_rerun_reads_outcomes_from_the_cache(repo: Path, run_fleet: Run) -> None:
    run_fleet(repo)
    # --tenants relative to the repository root when it is not under the current directory.
    code, report, stderr = run_fleet(repo, "--tenants", "tenants.yaml")
    assert code == 0 and report["source"] == {"kind": "file", "path": "tenants.yaml"}
    assert "5 from cache, 0 plan(s) run" in stderr


def test_a_base_without_the_batch_entry_point_is_planned_with_a_notice(
    tmp_path: Path, run_fleet: Run
) -> None:
    repo = make_repo(tmp_path / "old", skip=("provisioner/fleet",))
    code, report, _ = run_fleet(repo, "--no-cache", "--exact", "--detailed-exitcode")
    assert code == 0  # same program: no worktree needed, the working tree plans both
    # The working tree gets the fleet package back; the base commit still lacks it.
    shutil.copytree(PROJECT_ROOT / "provisioner/fleet", repo / "provisioner/fleet",
                    ignore=shutil.ignore_patterns("__pycache__"))
    edit(repo / "templates/user_data.sh.j2", "mkdir -p /srv/crm\n", "mkdir -p /srv/crm /srv/y\n")
    code, report, _ = run_fleet(repo, "--no-cache", "--detailed-exitcode")
    assert code == 4
    assert any(n.startswith("HEAD (") and "predates the fleet batch entry point" in n
               for n in report["notices"])


def test_a_base_without_the_offline_planner_exits_3(tmp_path: Path, run_fleet: Run) -> None:
    repo = make_repo(tmp_path / "ancient", skip=("provisioner/synth.py",))
    (repo / "provisioner/synth.py").write_text("# not a planner\n")
    code, _, stderr = run_fleet(repo, "--detailed-exitcode")
    assert code == 3
    assert "has no provisioner/synth.py" in stderr


def test_environment_and_usage_errors(tmp_path: Path, repo: Path, run_fleet: Run) -> None:
    code, _, stderr = run_fleet(tmp_path)
    assert code == 3 and "not inside a git repository" in stderr
    code, _, stderr = run_fleet(repo, base="no-such-branch")
    assert code == 3 and "unknown git ref 'no-such-branch'" in stderr
    assert str(repo) not in stderr and len(stderr.strip().splitlines()) == 1, stderr
    code, _, stderr = run_fleet(repo, "--jobs", "0")
    assert code == 2
    (repo / "tenants.yaml").write_text("tenants:\n  - {slug: acme, location: mars, plan: free}\n")
    code, _, stderr = run_fleet(repo)
    assert code == 2 and "acme" in stderr and "mars" in stderr


def test_the_registry_as_the_fleet_shows_program_changes(repo: Path, run_fleet: Run) -> None:
    from provisioner.registry import Registry
    from provisioner.spec import TenantSpec

    with Registry.open() as registry:  # under the test's own PROVISIONER_HOME
        registry.create_tenant(TenantSpec.create("acme", "de", "standard"), actor="test")
        registry.create_tenant(TenantSpec.create("kilo", "us", "trial"), actor="test")
    edit(repo / "templates/user_data.sh.j2", "mkdir -p /srv/crm\n", "mkdir -p /srv/crm /srv/x\n")
    code, report, _ = run_fleet(repo, "--registry", "--detailed-exitcode")
    assert code == 4
    assert report["source"] == {"kind": "registry"}
    assert sorted(report["tenants"]) == ["acme", "kilo"]
    assert report["summary"]["tenants"]["changed"] == 2


def test_the_registry_as_the_fleet_must_exist(repo: Path, run_fleet: Run) -> None:
    """Without a registry, --registry used to create an empty one and answer "no changes to 0
    tenants" (exit 0): a pipeline missing its database would pass. It is an environment
    problem, and nothing is created."""
    from provisioner.paths import default_registry_file

    code, _, stderr = run_fleet(repo, "--registry", "--detailed-exitcode")
    assert code == 3 and "no registry to read" in stderr
    assert not default_registry_file().exists()


def test_a_tenant_bound_to_a_pooled_instance_is_planned_under_its_names(
    repo: Path, run_fleet: Run
) -> None:
    import json

    from provisioner.registry import Registry
    from provisioner.spec import TenantSpec

    with Registry.open() as registry:
        for slug in ("acme", "beta", "delta"):  # a class worth a template
            registry.create_tenant(TenantSpec.create(slug, "de", "trial"), actor="test")
        with registry.write() as conn:
            conn.exec_driver_sql("UPDATE tenants SET instance_id = 'pool-0a1b2c3d4e'"
                                 " WHERE slug = 'beta'")  # fmt: skip
    edit(repo / "templates/user_data.sh.j2", "mkdir -p /srv/crm\n", "mkdir -p /srv/crm /srv/x\n")
    code, report, _ = run_fleet(repo, "--registry", "-o", "json")
    assert code == 0
    assert report["tenants"]["beta"]["group"] != report["tenants"]["acme"]["group"]
    assert report["tenants"]["delta"]["group"] == report["tenants"]["acme"]["group"]
    assert "tenant-pool-0a1b2c3d4e" in json.dumps(report["groups"])


def test_templated_plans_with_hashed_windows_and_a_pooled_tenant_match_exact_plans(
    repo: Path, run_fleet: Run
) -> None:
    """Each tenant's maintenance and patching windows are hashed from its instance id, so a class
    template holds them as placeholders filled per tenant: the report must be the one planning
    every tenant gives, the class must really be templated, and a tenant bound to a pooled
    instance (named after the instance, not its slug) must be planned on its own."""
    import json
    import re

    from provisioner.registry import Registry
    from provisioner.spec import TenantSpec
    from stacks.windows import tenant_windows

    slugs = ("acme", "beta", "delta", "echo", "foxtrot-long", "golf")
    assert len({tenant_windows("eu-central-1", s)["database_window"] for s in slugs}) > 1
    with Registry.open() as registry:
        for slug in slugs:
            registry.create_tenant(TenantSpec.create(slug, "de", "trial"), actor="test")
        with registry.write() as conn:
            conn.exec_driver_sql("UPDATE tenants SET instance_id = 'pool-0a1b2c3d4e'"
                                 " WHERE slug = 'golf'")  # fmt: skip
    edit(repo / "stacks/components/patching.py", 'f"Tenant {spec.instance_id}: weekly patching"',
         'f"Tenant {spec.instance_id}: weekly patching window"')
    code, templated, stderr = run_fleet(repo, "--registry")
    assert code == 0
    found = re.search(r"(\d+) from verified templates", stderr)
    # The five tenants created directly; golf is planned on its own.
    assert found is not None and int(found.group(1)) == 5, stderr
    code, exact, _ = run_fleet(repo, "--registry", "--exact")
    assert code == 0
    assert templated == exact
    # The pooled tenant's change names its instance, so it is a group of its own.
    (group,) = [g for g in exact["groups"] if "golf" in g["tenants"]]
    assert group["count"] == 1 and "tenant-pool-0a1b2c3d4e" in json.dumps(group)
    assert exact["tenants"]["beta"]["group"] == exact["tenants"]["acme"]["group"]


def test_a_change_to_the_windows_themselves_is_templated_with_both_sides_windows(
    repo: Path, run_fleet: Run
) -> None:
    """Moving every patching window an hour earlier: each tenant's base and head schedules
    differ, both filled into the shared outcome per tenant, and the report is the exact one."""
    import re

    edit(repo / "stacks/windows.py", "WINDOW_START_HOURS = (1, 2, 3, 4)",
         "WINDOW_START_HOURS = (0, 1, 2, 3)")
    code, templated, stderr = run_fleet(repo)
    assert code == 0
    found = re.search(r"(\d+) from verified templates", stderr)
    assert found is not None and int(found.group(1)) == 4, stderr  # the de/standard class
    code, exact, _ = run_fleet(repo, "--exact")
    assert code == 0
    assert templated == exact
    assert templated["summary"]["tenants"]["changed"] == 5
