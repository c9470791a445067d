"""The fleet's pure parts: graph diff and replacements, templates, grouping, markdown, exits."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from typer.testing import CliRunner

from provisioner.cli.main import app
from provisioner.errors import UsageError
from provisioner.fleet.diff import data_losses, diff_plans
from provisioner.fleet.outcome import group_outcomes
from provisioner.fleet.render import MARKER, change_rows, exit_code, render_markdown
from provisioner.fleet.sources import parse_tenants
from provisioner.fleet.template import PROBE_SLUGS, ClassPlan

RDS = "aws:rds/instance:Instance"
EC2 = "aws:ec2/instance:Instance"


def resource(name: str, type_: str, region: str = "eu-central-1", **inputs: Any) -> dict:
    return {"urn": f"urn:pulumi:s::tenant::{type_}::{name}", "type": type_, "name": name,
            "region": region, "parent": "", "inputs": {"region": region, **inputs}}


def plan(*resources: dict) -> dict:
    return {"tenant": {}, "resources": sorted(resources, key=lambda r: r["urn"])}


def test_diff_separates_updates_from_replacements_with_property_paths() -> None:
    base = plan(
        resource("db", RDS, identifier="t-a-db", allocatedStorage=20.0, tags={"plan": "free"}),
        resource("server", EC2, ami="ami-1", rootBlockDevice={"encrypted": True, "size": 8.0}),
        resource("gone", "aws:ebs/volume:Volume"),
    )
    head = copy.deepcopy(base)
    by_name = {r["name"]: r for r in head["resources"]}
    db, server = by_name["db"], by_name["server"]
    db["inputs"].update(identifier="t-a-database", allocatedStorage=50.0)
    db["inputs"]["tags"]["plan"] = "standard"
    server["inputs"]["rootBlockDevice"]["size"] = 30.0
    head["resources"].remove(by_name["gone"])
    head["resources"].append(resource("new", "aws:s3/bucket:Bucket"))
    changes = diff_plans(base, head)
    (replaced,) = changes["replace"]
    assert replaced["name"] == "db" and replaced["reasons"] == ["identifier"]
    assert [c["path"] for c in replaced["changes"]] == ["allocatedStorage", "identifier",
                                                        "tags.plan"]
    (updated,) = changes["update"]
    assert updated["name"] == "server"
    assert updated["changes"] == [{"path": "rootBlockDevice.size", "before": 8.0, "after": 30.0}]
    assert [e["name"] for e in changes["delete"]] == ["gone"]
    assert [e["name"] for e in changes["create"]] == ["new"]


def test_root_volume_encryption_region_and_user_data_replace_on_change_force_replacement() -> None:
    base = plan(resource("server", EC2, rootBlockDevice={"encrypted": True}, userData="a\nb",
                         userDataReplaceOnChange=True))
    head = copy.deepcopy(base)
    head["resources"][0]["inputs"]["rootBlockDevice"]["encrypted"] = False
    head["resources"][0]["inputs"]["userData"] = "a\nc"
    (replaced,) = diff_plans(base, head)["replace"]
    assert replaced["reasons"] == ["rootBlockDevice.encrypted", "userData"]
    moved = copy.deepcopy(base)
    moved["resources"][0]["inputs"]["region"] = "eu-west-1"
    moved["resources"][0]["region"] = "eu-west-1"
    (replaced,) = diff_plans(base, moved)["replace"]
    assert replaced["reasons"] == ["region"]
    assert [c["path"] for c in replaced["changes"]] == ["region"]


def test_user_data_without_replace_on_change_is_an_update_with_a_line_diff() -> None:
    base = plan(resource("server", EC2, userData="one\ntwo\nthree"))
    head = copy.deepcopy(base)
    head["resources"][0]["inputs"]["userData"] = "one\n2\nthree"
    (updated,) = diff_plans(base, head)["update"]
    assert updated["changes"][0]["diff"] == ["-two", "+2"]


def _class_plan(slug: str, truncate: int | None = None) -> dict:
    name = slug[:truncate] if truncate else slug
    return {"plan": plan(resource("db", RDS, identifier=f"t-{name}-db", tags={"tenant": slug}))}


def test_a_template_is_used_only_when_probes_and_a_real_tenant_agree() -> None:
    cls = ClassPlan("de", "standard", ["acme", "beta", "gamma-long", "delta"])
    assert cls.pick_verifier() == "gamma-long"
    probes = [_class_plan(s) for s in PROBE_SLUGS]
    assert cls.verify(probes, _class_plan("gamma-long"))
    assert cls.template is not None and "gamma" not in cls.template
    # A program that truncates slugs to 10 characters: the 40-character probe gives it away,
    # even though the real tenant's slug is exactly 10 characters long (not truncated).
    slug_dependent = ClassPlan("de", "standard", cls.slugs)
    probes = [_class_plan(s, truncate=10) for s in PROBE_SLUGS]
    assert not slug_dependent.verify(probes, _class_plan("gamma-long", truncate=10))
    assert slug_dependent.template is None
    # A program that branches on the slug (here: its length) plans the real tenant differently.
    branching = ClassPlan("de", "standard", cls.slugs)
    probes = [_class_plan(s) for s in PROBE_SLUGS]
    assert not branching.verify(probes, {"plan": plan(resource("db", RDS, identifier="short"))})
    # Probes agree but the real tenant does not plan like them (or failed): no template.
    odd = ClassPlan("de", "standard", cls.slugs)
    wrong = {"plan": plan(resource("db", RDS, identifier="something-else"))}
    assert not odd.verify([_class_plan(s) for s in PROBE_SLUGS], wrong)
    assert not odd.verify([_class_plan(s) for s in PROBE_SLUGS], {"kind": "failed", "error": "x"})


def _outcome(slug: str, status: str, danger: list[str], name: str = "db") -> dict:
    changes: dict[str, list] = {"create": [], "update": [], "replace": [], "delete": []}
    if status != "unchanged":
        changes["update"] = [{"urn": f"urn:{name}", "type": RDS, "name": name,
                              "region": "us-east-1",
                              "changes": [{"path": "tags.Name", "before": f"t-{slug}",
                                           "after": f"t-{slug}-x"}]}]
    return {"slug": slug, "status": status, "location": "us", "plan": "free",
            "spec": {}, "changes": changes,
            "counts": {"create": 0, "update": int(status != "unchanged"), "replace": 0,
                       "delete": 0},
            "danger": danger, "policy": {"failures": [], "warnings": 0}, "error": None,
            "notes": []}


def test_groups_put_dangerous_first_then_larger_groups_and_hide_the_slug() -> None:
    outcomes = [
        _outcome("alpha", "changed", []), _outcome("bravo", "changed", []),
        _outcome("charlie", "changed", []), _outcome("delta", "changed", ["deletes key k"], "k"),
        _outcome("echo", "changed", [], "other"), _outcome("foxtrot", "unchanged", []),
    ]
    groups = group_outcomes(outcomes)
    assert [g["tenants"] for g in groups] == [["delta"], ["alpha", "bravo", "charlie"], ["echo"]]
    assert [g["id"] for g in groups] == ["g1", "g2", "g3"]
    change = groups[1]["changes"]["update"][0]["changes"][0]
    assert change == {"path": "tags.Name", "before": "t-{slug}", "after": "t-{slug}-x"}
    assert groups[0]["changes"]["update"][0]["changes"][0]["before"] == "t-delta"


def _report(outcomes: list[dict]) -> dict:
    from provisioner.fleet.gitrepo import Revision
    from provisioner.fleet.planner import build_report

    class Repo:
        def head_commit(self) -> str:
            return "b" * 40

    return build_report(Revision("origin/main", "a" * 40), Repo(), {"kind": "file",  # type: ignore[arg-type]
                        "path": "tenants.yaml"}, "h1", "h2", outcomes, ["a notice"])


def test_markdown_orders_dangerous_groups_first_and_lists_their_tenants() -> None:
    report = _report([
        _outcome("alpha", "changed", []), _outcome("bravo", "changed", []),
        _outcome("delta", "changed", ["deletes key k"], "k"), _outcome("foxtrot", "unchanged", []),
    ])
    text = render_markdown(report)
    assert text.startswith(MARKER)
    assert "3 of 4 tenants change" in text and "1 dangerous" in text
    assert text.index("## ⚠️ Dangerous changes") < text.index("`delta`") < text.index(
        "## Changes") < text.index("#### 2 tenants change: 1 to update") < text.index(
        "`alpha`, `bravo`")
    assert "**deletes key k**" in text
    assert text.count("<details>") == text.count("</details>") == 3  # two groups + notes
    assert "`foxtrot`" not in text  # unchanged tenants are counted, not listed


def test_a_huge_fleet_still_fits_in_one_github_comment() -> None:
    outcomes = [_outcome(f"tenant{i:05d}", "changed", [], name=f"r{i % 400}")
                for i in range(4000)]
    text = render_markdown(_report(outcomes))
    assert len(text) < 65_536
    assert text.startswith(MARKER)


def test_exit_codes() -> None:
    changed = _report([_outcome("alpha", "changed", [])])
    danger = _report([_outcome("alpha", "changed", ["deletes key k"])])
    same = _report([_outcome("alpha", "unchanged", [])])
    assert [exit_code(r, True) for r in (same, changed, danger)] == [0, 4, 5]
    assert [exit_code(r, False) for r in (same, changed, danger)] == [0, 0, 0]
    failure = {"rule_id": "NET-001", "severity": "mandatory", "urn": "urn:db", "title": "t",
               "message": "database db is publicly accessible"}
    broken = _outcome("alpha", "changed", ["policy NET-001 fails (new)"])
    old = _outcome("alpha", "changed", ["policy NET-001 fails (already failing at the base)"])
    broken["policy"]["failures"] = [{**failure, "new": True}]
    old["policy"]["failures"] = [{**failure, "new": False}]
    # A change that breaks a mandatory rule is a failed check (exit 1, as `provisioner check`);
    # one already failing at the base does not fail every pull request.
    assert [exit_code(_report([o]), False) for o in (broken, old)] == [1, 0]
    assert [exit_code(_report([o]), True) for o in (broken, old)] == [5, 5]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tenants:\n  - {slug: acme, location: de, plan: free}\n"
         "  - {slug: acme, location: us, plan: free}\n", "listed twice"),
        ("tenants:\n  - {slug: acme, location: de}\n", "lacks plan"),
        ("tenants:\n  - {slug: Acme!, location: de, plan: free}\n", "not a DNS label"),
        ("tenants:\n  - {slug: acme, location: de, plan: free, size: xl}\n", "unknown field"),
        ("fleet: []\n", "unknown top-level key"),
    ],
)
def test_bad_tenants_files_are_usage_errors(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_tenants(text, "tenants.yaml")


def test_tenants_file_accepts_a_bare_list_and_sorts_by_slug() -> None:
    fleet = parse_tenants("- {slug: zulu, location: DE, plan: Free}\n"
                          "- {slug: alpha, location: us, plan: trial}\n", "t.yaml")
    assert list(fleet) == ["alpha", "zulu"]
    assert fleet["zulu"] == {"slug": "zulu", "location": "de", "plan": "free"}


def test_fleet_preview_without_the_pulumi_cli_exits_3_before_planning(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no pulumi here
    monkeypatch.setenv("HOME", str(tmp_path))  # nor in ~/.pulumi/bin
    result = CliRunner().invoke(app, ["fleet", "preview", "--base", "HEAD", "--repo",
                                      str(tmp_path)])
    assert result.exit_code == 3
    assert "Pulumi CLI is not installed" in result.stderr


class _Engine:
    """A stand-in for provisioner.engine.Engine: records previews, fails where told."""

    def __init__(self, fail: dict[str, Exception] | None = None) -> None:
        self.previewed: list[str] = []
        self.fail = fail or {}

    def preview(self, spec: Any) -> Any:
        self.previewed.append(spec.slug)
        if spec.slug in self.fail:
            raise self.fail[spec.slug]

        from types import SimpleNamespace

        return SimpleNamespace(
            changes={"update": 1, "same": 69, "replace": 2, "create-replacement": 2}
        )


def test_preview_runs_only_for_changed_and_added_tenants_and_records_failures() -> None:
    from provisioner.errors import EngineError, EnvironmentProblem
    from provisioner.fleet.preview import preview_changed

    report = _report([_outcome("alpha", "changed", []), _outcome("bravo", "unchanged", []),
                      _outcome("charlie", "changed", [])])
    engine = _Engine(fail={"charlie": EngineError("stack is broken")})
    previews = preview_changed(engine, report, concurrency=2)
    assert sorted(engine.previewed) == ["alpha", "charlie"]
    assert previews["alpha"] == {"changes": {"create": 0, "update": 1, "replace": 2, "delete": 0},
                                 "error": None}
    assert previews["charlie"]["error"] == "stack is broken"
    report["previews"] = previews
    assert "| `charlie` | 0 | 0 | 0 | 0 | stack is broken |" in render_markdown(report)
    with pytest.raises(EnvironmentProblem):
        preview_changed(_Engine(fail={"alpha": EnvironmentProblem("no credentials")}), report, 1)


OPTION_GROUP = "aws:rds/optionGroup:OptionGroup"
VAULT_LOCK = "aws:backup/vaultLockConfiguration:VaultLockConfiguration"


def test_option_group_engine_and_vault_lock_changes_are_replacements() -> None:
    """Both have no update for these inputs in the AWS API (ModifyOptionGroup changes options
    only; a Vault Lock configuration has no update), so Pulumi replaces them; a replaced lock
    is dangerous: AWS refuses a new configuration on a compliance-mode vault past its grace."""
    base = plan(
        resource("database-audit", OPTION_GROUP, engineName="mysql", majorEngineVersion="8.4"),
        resource("backup-vault-lock", VAULT_LOCK, backupVaultName="tenant-a",
                 changeableForDays=3.0, minRetentionDays=7.0),
    )
    head = copy.deepcopy(base)
    by_name = {r["name"]: r["inputs"] for r in head["resources"]}
    by_name["database-audit"]["majorEngineVersion"] = "9.4"
    by_name["backup-vault-lock"]["minRetentionDays"] = 14.0
    changes = diff_plans(base, head)
    assert changes["update"] == []
    assert sorted((e["name"], tuple(e["reasons"])) for e in changes["replace"]) == [
        ("backup-vault-lock", ("minRetentionDays",)),
        ("database-audit", ("majorEngineVersion",)),
    ]
    (danger,) = data_losses(changes)
    assert danger.startswith("replaces backup vault lock backup-vault-lock (minRetentionDays"
                             " changed): AWS refuses")
    removed = diff_plans(base, plan())
    assert data_losses(removed) == [], "the stack retains locks on delete: no AWS call"


def test_inputs_under_ignore_changes_are_no_change() -> None:
    """Pulumi keeps an input listed in `ignore_changes` as it is in the state: a different
    value in the program neither updates nor replaces the resource; other inputs still do."""
    air_gapped = "aws:backup/logicallyAirGappedVault:LogicallyAirGappedVault"
    base = plan(resource("backup-air-gapped-vault", air_gapped, minRetentionDays=7.0,
                         maxRetentionDays=7.0))
    base["resources"][0]["inputs"]["name"] = "tenant-a-air-gapped"
    head = copy.deepcopy(base)
    vault = head["resources"][0]
    vault["ignoreChanges"] = ["minRetentionDays", "maxRetentionDays"]
    vault["inputs"].update(minRetentionDays=14.0, maxRetentionDays=14.0)
    assert diff_plans(base, head) == diff_plans(base, base)
    vault["inputs"]["name"] = "tenant-b-air-gapped"
    (replaced,) = diff_plans(base, head)["replace"]
    assert replaced["reasons"] == ["name"]
    assert [c["path"] for c in replaced["changes"]] == ["name"]


def test_a_policy_change_shows_the_lines_that_changed() -> None:
    """IAM policies are one line of JSON whose first 60 characters (all the table shows) are
    the same on both sides: the diff below the table names the statement that changed."""
    import json

    document = {"Statement": [{"Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                               "Effect": "Allow", "Resource": "arn:aws:logs:*:*:/tenant/a/*"}]}
    base = plan(resource("compute-own-resources", "aws:iam/rolePolicy:RolePolicy",
                         policy=json.dumps(document, sort_keys=True)))
    head = copy.deepcopy(base)
    document["Statement"][0]["Resource"] = "*"
    head["resources"][0]["inputs"]["policy"] = json.dumps(document, sort_keys=True)
    (updated,) = diff_plans(base, head)["update"]
    (change,) = updated["changes"]
    assert change["diff"] == ['-   "Resource": "arn:aws:logs:*:*:/tenant/a/*"',
                              '+   "Resource": "*"']
    markdown_rows = [row for row in change_rows(diff_plans(base, head)) if row["diff"]]
    assert [row["path"] for row in markdown_rows] == ["policy"]


def test_grouping_takes_the_account_out_of_arns_inside_policies_too() -> None:
    """The comment promises {account} for every ARN: a policy's diff line showed the number."""
    from provisioner.fleet.outcome import normalise

    where = {"region": "eu-central-1", "backup_region": "eu-west-1"}
    line = '-    "arn:aws:rds-db:eu-central-1:123456789012:dbuser:db-x/crm_app"'
    expected = '-    "arn:aws:rds-db:{region}:{account}:dbuser:db-x/crm_app"'
    assert normalise(line, "acme", where) == expected
