"""The recommended pool size (Poisson tail, base-stock) and the simulation that checks it."""

from __future__ import annotations

import json
import math

import pytest
from typer.testing import CliRunner

from provisioner.cli.main import app
from provisioner.pools.simulate import SimulationConfig, simulate
from provisioner.pools.sizing import poisson_tail, recommend


def _tail_by_definition(k: int, mean: float) -> float:
    return 1 - sum(math.exp(-mean) * mean**i / math.factorial(i) for i in range(k))


@pytest.mark.parametrize(("k", "mean"), [(0, 3.0), (1, 0.5), (15, 15.0), (26, 15.0), (5, 40.0)])
def test_poisson_tail_matches_the_definition(k: int, mean: float) -> None:
    assert poisson_tail(k, mean) == pytest.approx(_tail_by_definition(k, mean), abs=1e-12)


def test_a_far_tail_keeps_its_precision() -> None:
    # P(X >= 60) for mean 15: 1 - P(X < 60) would round to 0; summed upward it does not.
    tail = poisson_tail(60, 15.0)
    first = math.exp(-15 + 60 * math.log(15) - math.lgamma(61))
    assert first < tail < 1.5 * first


def test_recommend_is_the_smallest_size_meeting_the_target() -> None:
    advice = recommend(60, 15, 0.01)  # λT = 15 builds outstanding on average
    assert poisson_tail(advice.size, 15) <= 0.01 < poisson_tail(advice.size - 1, 15)
    assert advice.cold_bound == poisson_tail(advice.size, 15)
    assert recommend(60, 15, 0.001).size > advice.size
    assert recommend(120, 15, 0.01).size > advice.size
    assert recommend(0, 15, 0.01).size == 1


def test_the_simulation_agrees_with_the_recommendation() -> None:
    config = SimulationConfig(signups_per_hour=60, hours=6, build_minutes=(10, 20), seed=3)
    result = simulate(config)
    assert result.pool_size == recommend(60, 15, 0.01).size
    assert result.signups == result.pooled + result.cold > 250
    # The bound is on the probability; over ~360 signups allow sampling noise above it.
    assert result.cold / result.signups <= 0.03
    assert result.p95_ready_s == 45.0
    assert result.idle_instance_hours > 0


def test_without_a_pool_every_signup_waits_for_a_build() -> None:
    result = simulate(SimulationConfig(signups_per_hour=30, hours=2, pool_size=0, seed=1))
    assert result.pooled == 0 and result.cold == result.signups
    assert 600 <= result.p50_ready_s <= 1200 and result.idle_instance_hours == 0


def test_a_small_pool_runs_dry() -> None:
    small = simulate(SimulationConfig(signups_per_hour=60, hours=3, pool_size=5, seed=2))
    assert small.cold > small.signups / 3  # λT = 15 outstanding builds: 5 is far too few


def test_simulate_command_json() -> None:
    out = CliRunner().invoke(
        app,
        ["pool", "simulate", "--signups-per-hour", "20", "--hours", "1", "--pool-size", "4",
         "--build-minutes", "10..20", "--bind-seconds", "30", "--seed", "7", "-o", "json"],
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert set(data) == {"signups", "pooled", "cold", "p50_ready_s", "p95_ready_s",
                         "p99_ready_s", "pool_size", "idle_instance_hours"}  # fmt: skip
    assert data["pool_size"] == 4 and data["p50_ready_s"] == 30.0


@pytest.mark.parametrize(
    "args",
    [
        ["--build-minutes", "20..10"],
        ["--build-minutes", "ten"],
        ["--pool-size", "3", "--auto"],
        ["--signups-per-hour", "0"],
    ],
)
def test_simulate_refuses_bad_input(args: list[str]) -> None:
    base = ["pool", "simulate", "--signups-per-hour", "10", "--hours", "1"]
    out = CliRunner().invoke(app, [*base, *args])
    assert out.exit_code == 2, out.output
