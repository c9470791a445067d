"""`fleet plan` shows every location's regional platform stack (stacks/region), each case in a
temporary git repository: a regional change shown, a regional deletion dangerous, a regional
policy failure and a program that cannot plan a location failing the preview, and a change to
the tenant program alone showing the regional stacks unchanged without planning them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from provisioner.fleet.regions import REGION_PATHS
from provisioner.paths import PROJECT_ROOT
from provisioner.regions import LOCATION_CODES
from tests.fleet.conftest import Run, edit

PLATFORM = "stacks/region/platform.py"


def test_a_regional_change_is_shown_for_every_location_and_tenants_stay_unplanned(
    repo: Path, run_fleet: Run
) -> None:
    edit(repo / PLATFORM, "deletion_window_in_days=30,", "deletion_window_in_days=20,")
    code, report, stderr = run_fleet(repo, "--detailed-exitcode")
    assert code == 4, report["regions"]["groups"]
    assert "regional stacks planned at 2 side(s)" in stderr
    # stacks/region is no part of the tenant program: no tenant is planned again.
    assert report["program_changed"] is False
    assert report["summary"]["tenants"]["changed"] == 0
    regions = report["regions"]
    assert regions["program_changed"] is True and regions["changed"] is True
    assert sorted(regions["stacks"]) == sorted(LOCATION_CODES)
    assert {s["status"] for s in regions["stacks"].values()} == {"changed"}
    (group,) = regions["groups"]  # one change in eight locations is one group
    assert group["count"] == 8 and not group["dangerous"]
    (entry,) = group["changes"]["update"]
    assert entry["type"] == "aws:kms/key:Key"
    assert entry["changes"] == [{"path": "deletionWindowInDays", "before": 30, "after": 20}]
    code, markdown, _ = run_fleet(repo, "--detailed-exitcode", output="markdown")
    assert code == 4
    assert "8 of 8 regional stacks change" in markdown.splitlines()[1]
    assert "## Regional platform stacks" in markdown
    assert "| ~ update | `{stack}-alerts-key` | `Key` | `deletionWindowInDays` | `30` | `20` |" \
        in markdown


def test_deleting_a_regional_alert_rule_is_dangerous(repo: Path, run_fleet: Run) -> None:
    rule = ('        rules.append(("key-disabled-or-deleted", key_deletion_pattern(),\n'
            '                      "KMS: a key was disabled or scheduled for deletion"))\n')
    edit(repo / PLATFORM, rule, "")
    code, report, _ = run_fleet(repo, "--detailed-exitcode")
    assert code == 5
    assert report["dangerous"] is True and report["summary"]["tenants"]["dangerous"] == 0
    (group,) = report["regions"]["groups"]
    assert group["dangerous"] and group["count"] == 8
    deleted = {e["type"] for e in group["changes"]["delete"]}
    assert deleted == {"aws:cloudwatch/eventRule:EventRule",
                       "aws:cloudwatch/eventTarget:EventTarget"}
    assert "deletes alert rule {stack}-key-disabled-or-deleted" in group["danger"]
    assert any(d.startswith("policy REG-004 fails (new)") for d in group["danger"])
    code, markdown, _ = run_fleet(repo, "--detailed-exitcode", output="markdown")
    assert code == 5
    assert markdown.splitlines()[1].startswith(
        "### Fleet plan: ⚠️ 8 regional stacks dangerous · no changes to 5 tenants")
    assert "- **deletes alert rule {stack}-key-disabled-or-deleted**" in markdown


def test_a_regional_policy_failure_fails_the_preview(repo: Path, run_fleet: Run) -> None:
    # CloudWatch alarms may no longer publish: an update, no deletion, and every alert of
    # every tenant alarm would be dropped. Only the policy verdict of the head plan says so.
    edit(repo / PLATFORM, 'PUBLISHERS = ("events.amazonaws.com", "cloudwatch.amazonaws.com")',
         'PUBLISHERS = ("events.amazonaws.com",)')
    code, report, _ = run_fleet(repo, "--detailed-exitcode")
    assert code == 5
    (group,) = report["regions"]["groups"]
    assert not group["changes"]["delete"] and not group["changes"]["replace"]
    assert group["danger"] and all(d.startswith("policy REG-005 fails (new)")
                                   for d in group["danger"])
    assert {s["policy_failures"][0] for s in report["regions"]["stacks"].values()} == {"REG-005"}
    code, _, _ = run_fleet(repo)  # as for tenants: a new mandatory failure is a failed check
    assert code == 1


def test_a_program_that_cannot_plan_the_regional_stack_fails(repo: Path, run_fleet: Run) -> None:
    edit(repo / PLATFORM, "        region, tags = spec.region, spec.tags()\n",
         "        region, tags = spec.region, spec.tags()\n"
         "        if spec.location.code == 'jp':\n"
         "            raise ValueError('no alerts in jp')\n")
    code, report, _ = run_fleet(repo)
    assert code == 1
    stacks = report["regions"]["stacks"]
    assert stacks["jp"]["status"] == "error" and stacks["jp"]["dangerous"]
    assert {s["status"] for c, s in stacks.items() if c != "jp"} == {"unchanged"}
    (group,) = [g for g in report["regions"]["groups"] if g["status"] == "error"]
    assert "ValueError: no alerts in jp" in group["error"]
    code, _, _ = run_fleet(repo, "--detailed-exitcode")
    assert code == 5


def test_a_tenant_only_change_shows_the_regional_stacks_unchanged_from_the_cache(
    repo: Path, run_fleet: Run
) -> None:
    run_fleet(repo)  # the base's regional outcome is cached (as a CI cache restored from main)
    edit(repo / "templates/user_data.sh.j2", "mkdir -p /srv/crm\n", "mkdir -p /srv/crm /srv/r\n")
    code, report, stderr = run_fleet(repo, "--detailed-exitcode")
    assert code == 4
    assert report["program_changed"] is True and report["summary"]["tenants"]["changed"] == 5
    regions = report["regions"]
    assert regions["program_changed"] is False and regions["changed"] is False
    assert {s["status"] for s in regions["stacks"].values()} == {"unchanged"}
    assert regions["groups"] == []
    assert "regional stacks planned at 0 side(s)" in stderr


def test_the_regional_program_hash_covers_every_file_the_regional_program_reads() -> None:
    """REGION_PATHS decides when regional plans are reused: a file the program imports but the
    hash leaves out would let a stale plan through. And the tenant program must not import the
    regional stack, which its own hash now leaves out."""
    script = (
        "import sys\n"
        "from provisioner.region_plan import plan_region\n"
        "from provisioner.region_spec import RegionSpec\n"
        "plan_region(RegionSpec.configured('de'))\n"
        "regional = {m.__file__ for m in list(sys.modules.values())"
        " if getattr(m, '__file__', None)}\n"
        "from provisioner.spec import TenantSpec\n"
        "from provisioner.synth import synth_plan\n"
        "synth_plan(TenantSpec.create('demo', 'de', 'trial'))\n"
        "tenant = {m.__file__ for m in list(sys.modules.values())"
        " if getattr(m, '__file__', None)} - regional\n"
        "print('\\n'.join('R ' + f for f in sorted(regional)))\n"
        "print('\\n'.join('T ' + f for f in sorted(tenant)))\n"
    )
    root = str(PROJECT_ROOT.resolve())
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, cwd=root, env={**os.environ, "PYTHONPATH": root}).stdout
    mine = [(line[0], os.path.relpath(line[2:], root)) for line in out.splitlines()
            if line[2:].startswith(root + os.sep)]
    regional = {path for kind, path in mine if kind == "R"}
    ours = {p for p in regional if p.startswith(("stacks/", "provisioner/"))}
    assert "stacks/region/platform.py" in ours
    # What the regional program imports beyond its hash: the error classes and the policy
    # code the driver runs (the reporting code, hashed separately).
    uncovered = {p for p in ours if not p.startswith((*REGION_PATHS, "provisioner/policy/"))
                 and p not in ("provisioner/__init__.py", "provisioner/errors.py")}
    assert not uncovered, uncovered
    assert not any(p.startswith("stacks/region") for kind, p in mine if kind == "T")


def test_what_alerting_depends_on_is_dangerous_to_replace_or_delete() -> None:
    from provisioner.fleet.regions import critical_losses

    def entry(type_: str, name: str, **extra: object) -> dict[str, object]:
        return {"urn": f"urn:pulumi:region-de::region::{type_}::{name}", "type": type_,
                "name": name, **extra}

    changes = {
        "delete": [entry("aws:cloudtrail/trail:Trail", "region-de-trail"),
                   entry("aws:sns/topicSubscription:TopicSubscription", "region-de-sub-0")],
        "replace": [entry("aws:acm/certificate:Certificate", "region-de-wildcard",
                          reasons=["domainName"]),
                    entry("aws:sns/topic:Topic", "region-de-alerts", reasons=["name"])],
        "update": [entry("aws:kms/key:Key", "region-de-alerts-key")],
    }
    assert critical_losses(changes) == [
        "replaces certificate region-de-wildcard (domainName changed)",
        "replaces alert topic region-de-alerts (name changed)",
        "deletes CloudTrail trail region-de-trail",
    ]


def test_rollouts_plan_tenants_only(repo: Path, cache_dir: Path) -> None:
    from provisioner.fleet.planner import FleetOptions, plan_fleet

    edit(repo / PLATFORM, "deletion_window_in_days=30,", "deletion_window_in_days=20,")
    report, stats = plan_fleet(FleetOptions(repo=repo, base="HEAD", cache_dir=cache_dir, jobs=2,
                                            regions=False))
    assert "regions" not in report and stats["region_sides_planned"] == 0
    assert report["changed"] is False  # the regional change is not a rollout's to make


def test_an_older_base_is_planned_by_this_driver_or_shows_every_stack_added(
    tmp_path: Path, run_fleet: Run
) -> None:
    import shutil

    from tests.fleet.conftest import make_repo

    batch = "provisioner/fleet/region_batch.py"
    # A base from before the regional batch entry point: this checkout's runs over its code.
    repo = make_repo(tmp_path / "old", skip=(batch,))
    shutil.copy2(PROJECT_ROOT / batch, repo / batch)
    edit(repo / PLATFORM, "deletion_window_in_days=30,", "deletion_window_in_days=20,")
    code, report, _ = run_fleet(repo, "--detailed-exitcode")
    assert code == 4, report["regions"]["groups"]
    assert report["regions"]["summary"]["stacks"]["changed"] == 8
    # A base from before the regional stack: every location's stack is added.
    repo = make_repo(tmp_path / "older", skip=("provisioner/region_plan.py", batch))
    shutil.copy2(PROJECT_ROOT / batch, repo / batch)
    shutil.copy2(PROJECT_ROOT / "provisioner/region_plan.py", repo / "provisioner/region_plan.py")
    code, report, _ = run_fleet(repo, "--detailed-exitcode")
    assert code == 4
    assert report["regions"]["summary"]["stacks"]["added"] == 8
    assert any("the base has no regional platform stack" in n for n in report["notices"])
