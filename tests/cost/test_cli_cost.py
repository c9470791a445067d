"""`provisioner cost` and `provisioner prices show` through Typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from provisioner.cli.main import app
from provisioner.cost.snapshot import load_snapshot

runner = CliRunner()


def test_cost_json_has_the_documented_shape() -> None:
    result = runner.invoke(app, ["cost", "--location", "us", "--plan", "trial", "-o", "json"])
    assert result.exit_code == 0, result.output
    estimate = json.loads(result.stdout)
    assert {"monthly_usd", "lines", "unpriced", "prices_date"} <= set(estimate)
    line_keys = {"resource", "type", "what", "quantity", "unit_usd", "monthly_usd", "source"}
    assert estimate["lines"] and all(line_keys <= set(x) for x in estimate["lines"])
    assert estimate["prices_date"] == load_snapshot().prices_date
    assert estimate["tenant"]["region"] == "us-east-1" and estimate["usage"]["plan"] == "trial"


def test_cost_table_shows_lines_unpriced_items_and_a_lower_bound() -> None:
    result = runner.invoke(app, ["cost", "-l", "de", "-p", "standard"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "customer managed key" in result.stdout
    assert "unpriced (not in the total)" in result.stdout
    assert "ec2.instance_hour[t3.large]" in result.stdout  # price keys are not eaten as markup
    assert "total: at least $" in result.stdout


def test_a_usage_file_changes_the_estimate(tmp_path: Path) -> None:
    usage = tmp_path / "usage.yaml"
    usage.write_text("plans:\n  trial:\n    nat_gb_processed: 1000\n")
    args = ["cost", "-l", "us", "-p", "trial", "-o", "json"]
    base = json.loads(runner.invoke(app, args).stdout)
    more = json.loads(runner.invoke(app, [*args, "--usage", str(usage)]).stdout)
    assert more["usage"]["nat_gb_processed"] == 1000
    assert more["monthly_usd"] > base["monthly_usd"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["cost"], "give a tenant SLUG, or --location and --plan, or --fleet"),
        (["cost", "-l", "mars", "-p", "trial"], "mars"),
        (["cost", "-l", "us", "-p", "gold"], "unknown plan 'gold'"),
        (["cost", "acme"], "tenant acme is not registered: give --location and --plan"),
        (["cost", "--fleet", "-l", "us"], "--fleet prices every tenant"),
        (["cost", "-l", "us", "-p", "trial", "--registry"], "go with --fleet"),
        (["cost", "-l", "us", "-p", "trial", "--usage", "/nonexistent.yaml"], "cannot read usage"),
        (["cost", "-l", "us", "-p", "trial", "--prices", "/nonexistent.json"], "cannot read price"),
        (["prices", "show", "-r", "de"], "--region de: not a region of the locations"),
        (["prices", "show", "-r", "us-east-1", "-r", "eu-centrl-1"], "--region eu-centrl-1"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_fleet_cost_sums_by_location_and_plan(tmp_path: Path) -> None:
    tenants = tmp_path / "tenants.yaml"
    tenants.write_text(
        "tenants:\n"
        "  - {slug: acme, location: us, plan: trial}\n"
        "  - {slug: beta, location: us, plan: trial}\n"
        "  - {slug: gamma, location: sg, plan: trial}\n"
    )
    result = runner.invoke(app, ["cost", "--fleet", "--tenants", str(tenants), "-o", "json"])
    assert result.exit_code == 0, result.output
    fleet = json.loads(result.stdout)
    single = json.loads(
        runner.invoke(app, ["cost", "-l", "us", "-p", "trial", "-o", "json"]).stdout
    )
    us = next(c for c in fleet["classes"] if c["location"] == "us")
    assert us["tenants"] == 2 and us["per_tenant_usd"] == single["monthly_usd"]
    assert us["monthly_usd"] == pytest.approx(2 * single["monthly_usd"], abs=0.01)
    assert fleet["tenants"] == 3 and fleet["by_plan"]["trial"]["tenants"] == 3
    assert fleet["by_location"]["us"]["monthly_usd"] == us["monthly_usd"]
    assert fleet["monthly_usd"] == pytest.approx(
        sum(c["monthly_usd"] for c in fleet["classes"]), abs=0.01
    )
    assert fleet["unpriced"] and not fleet["complete"]


def test_fleet_cost_adds_other_stacks_from_their_plan_json(tmp_path: Path) -> None:
    tenants = tmp_path / "tenants.yaml"
    tenants.write_text("tenants:\n  - {slug: acme, location: us, plan: trial}\n")
    pool = tmp_path / "warm-pool.json"
    plan = runner.invoke(app, ["plan", "pool", "-l", "us", "-p", "trial", "-o", "json"]).stdout
    pool.write_text(plan)
    args = ["cost", "--fleet", "--tenants", str(tenants), "-o", "json"]
    base = json.loads(runner.invoke(app, args).stdout)
    more = json.loads(runner.invoke(app, [*args, "--extra-plan", str(pool)]).stdout)
    assert [e["name"] for e in more["extra"]] == ["warm-pool"]
    assert more["monthly_usd"] == pytest.approx(2 * base["monthly_usd"], abs=0.02)
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    result = runner.invoke(app, [*args, "--extra-plan", str(bad)])
    assert result.exit_code == 2 and "has no 'resources' list" in result.output


def test_prices_show_lists_sources_and_filters_by_region() -> None:
    result = runner.invoke(app, ["prices", "show", "-r", "ap-southeast-1", "-o", "json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["prices"] and {p["region"] for p in shown["prices"]} == {"ap-southeast-1"}
    assert all(p["source"] and p["date"] for p in shown["prices"])


def test_a_usage_override_for_a_resource_the_plan_lacks_is_refused(tmp_path: Path) -> None:
    usage = tmp_path / "usage.yaml"
    usage.write_text("resources:\n  observability-flow-log: {log_ingest_gb: 8}\n")
    result = runner.invoke(app, ["cost", "-l", "us", "-p", "trial", "--usage", str(usage)])
    assert result.exit_code == 2, result.output
    assert "resources observability-flow-log not in the us/trial plan" in result.output
    assert len(result.output.strip().splitlines()) == 1
    usage.write_text("resources:\n  observability-flow-logs: {log_ingest_gb: 8}\n")
    accepted = runner.invoke(app, ["cost", "-l", "us", "-p", "trial", "--usage", str(usage)])
    assert accepted.exit_code == 0, accepted.output


def test_fleet_cost_without_a_registry_is_an_environment_problem_and_creates_none() -> None:
    """It used to create an empty registry and report $0 for 0 tenants (exit 0)."""
    from provisioner.paths import default_registry_file

    for args in (["cost", "--fleet"], ["cost", "--fleet", "--registry", "-o", "json"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 3, result.output
        assert "no registry to read" in result.output
        assert not default_registry_file().exists()
