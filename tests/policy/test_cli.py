"""`provisioner check` and `provisioner policy list`, through Typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from provisioner.cli.main import app
from provisioner.policy.rules import RULES
from tests.policy.conftest import real_plan


def run(*args: str) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args])


def write(tmp_path: Path, data: Any, name: str = "plan.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def test_check_plans_and_passes() -> None:
    result = run("check", "demo", "--location", "jp", "--plan", "enterprise")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("PASS:")


def test_check_json_of_a_good_plan_file(tmp_path: Path) -> None:
    result = run("check", "--plan-file", write(tmp_path, real_plan("au", "free")), "-o", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["passed"] is True
    assert data["failures"] == []
    assert data["summary"]["rules_checked"] == len(RULES)
    assert data["tenant"]["location"] == "au"


def test_a_broken_promise_exits_1_naming_rule_and_resource(tmp_path: Path) -> None:
    plan = real_plan("de", "standard")
    listener = next(r for r in plan["resources"] if r["inputs"].get("protocol") == "HTTPS")
    listener["inputs"]["sslPolicy"] = "ELBSecurityPolicy-2016-08"
    path = write(tmp_path, plan)

    result = run("check", "--plan-file", path, "-o", "json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["passed"] is False
    assert [(f["rule_id"], f["severity"], f["urn"]) for f in data["failures"]] == [
        ("TLS-001", "mandatory", listener["urn"])]
    assert "ELBSecurityPolicy-2016-08" in data["failures"][0]["message"]

    table = run("check", "--plan-file", path)
    assert table.exit_code == 1
    assert "TLS-001" in table.stdout
    assert listener["name"] in table.stdout
    assert "FAIL:" in table.stdout


def test_an_advisory_warning_still_exits_0(tmp_path: Path) -> None:
    plan = real_plan("de", "standard")
    lifecycle = next(r for r in plan["resources"] if r["type"].endswith(
        "bucketLifecycleConfiguration:BucketLifecycleConfiguration"))
    lifecycle["inputs"]["rules"] = [lifecycle["inputs"]["rules"][0]]  # NLB logs kept forever
    result = run("check", "--plan-file", write(tmp_path, plan))
    assert result.exit_code == 0, result.output
    assert "LOG-005" in result.stdout
    assert "1 warning" in result.stdout


def _missing_urn(plan: dict[str, Any]) -> dict[str, Any]:
    del plan["resources"][3]["urn"]
    return plan


def _inputs_list(plan: dict[str, Any]) -> dict[str, Any]:
    plan["resources"][0]["inputs"] = []
    return plan


def _no_region(plan: dict[str, Any]) -> dict[str, Any]:
    del plan["tenant"]["region"]
    return plan


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("{not json", "not JSON"),
        ("", "not JSON"),
        ("[1, 2]", "not a plan"),
        (json.dumps({"resources": []}), "missing field 'tenant'"),
        (json.dumps({"tenant": {}, "resources": {}}), "tenant: missing or empty field 'slug'"),
        (lambda p: {**p, "resources": "none"}, "'resources' must be a list"),
        (_missing_urn, "resources[3]: missing field 'urn'"),
        (_inputs_list, "resources[0]: field 'inputs' must be dict"),
        (_no_region, "tenant: missing or empty field 'region'"),
    ],
    ids=["not-json", "empty", "list", "no-tenant", "empty-tenant", "resources-not-list",
         "missing-urn", "inputs-list", "no-region"],
)
def test_malformed_plan_files_exit_2_with_one_line(tmp_path: Path, content: Any, says: str
                                                   ) -> None:
    if callable(content):
        content = json.dumps(content(real_plan("de", "trial")))
    result = run("check", "--plan-file", write(tmp_path, content))
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert says in lines[0]
    assert "Traceback" not in result.output
    assert result.stdout == ""


def test_missing_plan_file_and_bad_arguments_exit_2(tmp_path: Path) -> None:
    missing = run("check", "--plan-file", tmp_path / "nope.json")
    assert missing.exit_code == 2
    assert "no such file" in missing.stderr
    both = run("check", "demo", "--plan-file", write(tmp_path, "{}"))
    assert both.exit_code == 2
    assert "either" in both.stderr
    neither = run("check", "demo", "--location", "de")
    assert neither.exit_code == 2
    bad_location = run("check", "demo", "--location", "mars", "--plan", "free")
    assert bad_location.exit_code == 2
    assert "unknown location" in bad_location.stderr


def test_policy_list_shows_every_rule_with_its_promise() -> None:
    result = run("policy", "list", "-o", "json")
    assert result.exit_code == 0, result.output
    rules = json.loads(result.stdout)
    assert [r["id"] for r in rules] == [r.id for r in RULES]
    for rule in rules:
        assert rule["severity"] in ("mandatory", "advisory")
        assert rule["promise_text"].endswith(".")
        assert rule["title"]
    table = run("policy", "list")
    assert table.exit_code == 0
    for rule in RULES:
        assert rule.id in table.stdout


def test_plan_shows_the_baseline_verdict() -> None:
    result = run("plan", "demo", "--location", "in", "--plan", "trial")
    assert result.exit_code == 0, result.output
    assert "security baseline: PASS:" in result.stdout
