"""`rollout simulate`: the real controller over a simulated engine and virtual clock."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from provisioner.cli.main import app
from provisioner.rollout.simulate import SimulationOptions, class_groups, simulate, synthetic_fleet
from provisioner.rollout.strategy import Strategy


def _run(count: int, **options: object) -> dict[str, object]:
    strategy = Strategy.parse(
        bake=str(options.pop("bake", "30m")),
        error_budget=str(options.pop("budget", "0")),
        in_flight=int(options.get("region_cap", 20)),  # type: ignore[call-overload]
        ignore_windows=not options.pop("windows", False),
    )
    fleet = synthetic_fleet(count, int(options.get("seed", 0)),  # type: ignore[call-overload]
                            windows=not strategy.ignore_windows)
    return simulate(fleet, class_groups(fleet), SimulationOptions(strategy, **options))  # type: ignore[arg-type]


def test_without_failures_every_tenant_is_updated_wave_after_baked_wave() -> None:
    result = _run(800)
    assert result["updated"] == 800 and result["failed"] == 0 and not result["halted"]
    waves = result["waves"]
    assert isinstance(waves, list) and sum(w["tenants"] for w in waves) == 800
    for before, after in itertools.pairwise(waves):
        assert after["started"] >= before["finished"] + 30 * 60  # each wave baked 30 minutes
    assert result["duration_s"] >= waves[-1]["finished"] + 30 * 60  # the last wave bakes too
    assert _run(800) == result  # reproducible: same seed, same run


def test_failures_halt_in_the_first_wave_that_exceeds_its_budget() -> None:
    result = _run(2000, failure_rate=0.2, budget="10%", seed=3)
    assert result["halted"] is True
    waves = result["waves"]
    assert isinstance(waves, list)
    halted = next(i for i, w in enumerate(waves) if w["name"] == result["halted_in_wave"])
    assert all(w["failed"] <= w["budget"] for w in waves[:halted])
    assert waves[halted]["failed"] > waves[halted]["budget"]
    assert all(w["started"] is None for w in waves[halted + 1:])  # nothing after the halt
    assert result["received"] < 2000
    assert "error budget" in str(result["halt_reason"])


def test_region_cap_and_windows_lengthen_a_rollout() -> None:
    fast = _run(400, region_cap=20)["duration_s"]
    slow = _run(400, region_cap=2)["duration_s"]
    windowed = _run(400, region_cap=20, windows=True)["duration_s"]
    assert isinstance(fast, float) and isinstance(slow, float) and isinstance(windowed, float)
    assert slow > fast and windowed > fast


def test_cli_prints_the_documented_json() -> None:
    result = CliRunner().invoke(app, ["rollout", "simulate", "--tenants", "300", "--seed", "1",
                                      "--failure-rate", "0.5", "--bake", "10m", "-o", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    for key in ("tenants", "updated", "failed", "skipped", "halted", "halt_reason", "duration_s",
                "waves"):
        assert key in data
    assert data["halted"] is True and data["tenants"] == 300
    assert set(data["waves"][0]) >= {"name", "tenants", "failed", "started", "finished"}
    bad = CliRunner().invoke(app, ["rollout", "simulate", "--update-minutes", "8..4"])
    assert bad.exit_code == 2 and "MIN <= MAX" in bad.output


def test_cli_refuses_a_synthetic_count_together_with_the_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROVISIONER_DATABASE_URL", f"sqlite:///{tmp_path / 'r.db'}")
    both = CliRunner().invoke(app, ["rollout", "simulate", "--tenants", "3", "--registry"])
    assert both.exit_code == 2 and "--tenants N or --registry" in both.output
    default = CliRunner().invoke(app, ["rollout", "simulate", "--seed", "1", "-o", "json"])
    assert default.exit_code == 0 and json.loads(default.output)["tenants"] == 1000
