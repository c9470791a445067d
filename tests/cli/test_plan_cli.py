"""`provisioner plan` through Typer's CliRunner: valid plans, and each kind of invalid input."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from provisioner.cli.main import app
from provisioner.regions import LOCATION_CODES

runner = CliRunner()


@pytest.mark.parametrize("location", LOCATION_CODES)
def test_plan_json_for_every_location_follows_the_contract(location: str) -> None:
    result = runner.invoke(app, ["plan", "demo", "--location", location, "--plan", "trial",
                                 "--output", "json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan["tenant"]["slug"] == "demo" and plan["tenant"]["location"] == location
    assert plan["resources"], "a plan without resources"
    for res in plan["resources"]:
        # `aliases` only on a resource that has any: the URNs Pulumi also matches it by;
        # `retainOnDelete` and `ignoreChanges` only where the program sets those options.
        optional = {"aliases", "retainOnDelete", "ignoreChanges"}
        assert set(res) - optional == {"urn", "type", "name", "region", "parent", "inputs"}
        assert res.get("retainOnDelete", True) is True
        assert all(isinstance(name, str) for name in res.get("ignoreChanges", ()))
        aliases = res.get("aliases", ["urn:pulumi:"])
        assert aliases and all(a.startswith("urn:pulumi:") and a != res["urn"] for a in aliases)
    assert [r["urn"] for r in plan["resources"]] == sorted(r["urn"] for r in plan["resources"])


def test_plan_accepts_an_aws_region_name_for_the_location() -> None:
    result = runner.invoke(app, ["plan", "demo", "-l", "eu-central-1", "-p", "trial", "-o", "json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["tenant"]["location"] == "de"


def test_plan_table_shows_the_tree_with_security_inputs() -> None:
    result = runner.invoke(app, ["plan", "demo", "--location", "de", "--plan", "trial"])
    assert result.exit_code == 0
    for text in ("demo de (eu-central-1, EU)", "sslPolicy", "httpTokens", "storageEncrypted",
                 "backups to eu-west-1"):  # fmt: skip
        assert text in result.stdout


def test_the_tables_show_the_newer_promises_inputs_too() -> None:
    """Vault Lock retention, WAF, alarm actions, patching, and the regional topic's key and
    subscriptions are what their promises rest on: the tree shows them, as it does TLS."""
    result = runner.invoke(app, ["plan", "demo", "--location", "de", "--plan", "trial"],
                           env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for text in ("minRetentionDays = 7", "defaultAction =", "alarmActions =",
                 "approvalRules =", "majorEngineVersion = 8.4",
                 # the database bootstrap: where it runs, whether it authenticates the database
                 "server certificate NOT verified", "vpcConfig ="):
        assert text in result.stdout, text
    result = runner.invoke(app, ["region", "plan", "de", "-s", "email:ops@example.com"],
                           env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for text in ("kmsMasterKeyId =", "endpoint = ops@example.com", "eventPattern =",
                 # the trail and the pools' wildcard certificate (its mail name too)
                 "isMultiRegionTrail = false", "enableLogFileValidation = true",
                 "enableLogging = true", '"*.mail.crm.example.com"'):
        assert text in result.stdout, text


def test_two_plans_of_the_same_spec_are_identical() -> None:
    args = ["plan", "demo", "-l", "jp", "-p", "standard", "-o", "json"]
    first, second = runner.invoke(app, args), runner.invoke(app, args)
    assert (first.exit_code, second.exit_code) == (0, 0), first.output + second.output
    assert json.loads(first.stdout)["resources"]  # a real plan, not two empty outputs
    assert first.stdout == second.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["plan", "Demo", "-l", "de", "-p", "trial"], "slug 'Demo' is not a DNS label"),
        (["plan", "ab", "-l", "de", "-p", "trial"], "slug 'ab' has 2 characters"),
        (["plan", "a" * 41, "-l", "de", "-p", "trial"], "has 41 characters"),
        (["plan", "1acme", "-l", "de", "-p", "trial"], "starting with a letter"),
        (["plan", "acme-", "-l", "de", "-p", "trial"], "not ending with a hyphen"),
        (["plan", "www", "-l", "de", "-p", "trial"], "slug 'www' is reserved"),
        (["plan", "admin", "-l", "de", "-p", "trial"], "slug 'admin' is reserved"),
        (["plan", "acme", "-l", "mars", "-p", "trial"], "unknown location 'mars'"),
        (["plan", "acme", "-l", "us-west-1", "-p", "trial"], "unknown location 'us-west-1'"),
        (["plan", "acme", "-l", "de", "-p", "gold"], "unknown plan 'gold'"),
        (["plan", "acme", "-l", "de"], "Missing option '--plan'"),
        (["plan", "acme", "-l", "de", "-p", "trial", "-o", "xml"], "'xml' is not one of"),
    ],
)
def test_invalid_input_exits_2_with_one_line(args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert message in lines[0]
    assert "Traceback" not in result.stderr


def test_debug_variable_shows_the_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROVISIONER_DEBUG", "1")
    result = runner.invoke(app, ["plan", "www", "-l", "de", "-p", "trial"])
    assert result.exit_code != 0
    assert result.exception is not None and "reserved" in str(result.exception)


def test_a_plan_that_breaks_a_promise_is_shown_but_exits_1(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import provisioner.synth

    real = provisioner.synth.synth_plan

    def with_old_tls_policy(spec, *args, **kwargs):  # type: ignore[no-untyped-def]
        plan = real(spec, *args, **kwargs)
        for res in plan["resources"]:
            if res["type"] == "aws:lb/listener:Listener" and res["inputs"]["port"] == 443:
                res["inputs"]["sslPolicy"] = "ELBSecurityPolicy-2016-08"
        return plan

    monkeypatch.setattr(provisioner.synth, "synth_plan", with_old_tls_policy)
    result = runner.invoke(app, ["plan", "demo", "-l", "de", "-p", "trial", "-o", "json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["tenant"]["slug"] == "demo"
    assert "FAIL" in result.stderr and "TLS-001" in result.stderr


def test_the_command_list_names_what_each_group_does() -> None:
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    lines = {line.split()[1]: line for line in result.stdout.splitlines()
             if len(line.split()) > 1 and line.split()[0] == "│"}
    assert "retire" in lines["backups"]  # retire-legacy
    assert "trail" in lines["region"] and "certificate" in lines["region"]
