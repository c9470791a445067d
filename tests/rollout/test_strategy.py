"""Wave planning, strategy parsing, maintenance windows: pure functions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from provisioner.errors import UsageError
from provisioner.rollout.strategy import (
    Candidate,
    ChangeGroup,
    ErrorBudget,
    Strategy,
    parse_duration,
    plan_waves,
)
from provisioner.rollout.windows import Window, default_window, window_of


def _fleet() -> list[Candidate]:
    fleet = [Candidate("canary-1", "de", "standard", True, canary=True)]
    fleet += [Candidate(f"trial-{i:02d}", "de", "trial", False) for i in range(5)]
    fleet += [Candidate(f"de-{i:03d}", "de", "standard", True) for i in range(100)]
    fleet += [Candidate(f"us-{i:03d}", "us", "enterprise", True) for i in range(20)]
    return fleet


def test_default_waves_canary_then_one_per_group_then_trials_then_paid_by_region() -> None:
    fleet = _fleet()
    groups = [
        ChangeGroup("g1", tuple(c.slug for c in fleet if c.plan == "standard")),
        ChangeGroup("g2", tuple(c.slug for c in fleet if c.plan == "enterprise")),
        ChangeGroup("g3", tuple(c.slug for c in fleet if c.plan == "trial"), changed=False),
    ]
    waves = plan_waves(fleet, groups, Strategy.parse(region_order="us"))
    names = [w.name for w in waves]
    assert names[:3] == ["canary", "groups", "trials"]
    assert waves[0].tenants == ("canary-1",)
    # One representative per changed group, never the canary (already placed); the unchanged
    # group has none.
    assert waves[1].tenants == ("de-000", "us-000")
    assert len(waves[2].tenants) == 5
    # --region-order us: us first, then de; growing cumulative batches of 1/10/50/100%.
    assert names[3:] == ["paid us 1%", "paid us 10%", "paid us 50%", "paid us 100%",
                         "paid de 1%", "paid de 10%", "paid de 50%", "paid de 100%"]
    de = [len(w.tenants) for w in waves if w.name.startswith("paid de")]
    assert de == [1, 9, 40, 49]  # 99 paid tenants left in de: ceil(1%)=1, 10, 50, 99
    every = [s for w in waves for s in w.tenants]
    assert sorted(every) == sorted(c.slug for c in fleet)  # each tenant exactly once


def test_stages_left_out_still_cover_everyone_in_a_last_wave() -> None:
    waves = plan_waves(_fleet(), [], Strategy.parse(waves="canary"))
    assert [w.name for w in waves] == ["canary", "rest"]
    assert len(waves[1].tenants) == len(_fleet()) - 1


@pytest.mark.parametrize(
    "waves", ["", "canary,bogus", "10%,5%", "1%,50%", "0%,100%", "canary,101%"]
)
def test_bad_wave_specs_are_usage_errors(waves: str) -> None:
    with pytest.raises(UsageError):
        Strategy.parse(waves=waves)


def test_a_named_stage_given_twice_is_refused() -> None:
    with pytest.raises(UsageError, match="'canary' is given twice"):
        Strategy.parse(waves="canary,trials,canary,100%")


def test_durations_budgets_and_region_order() -> None:
    assert parse_duration("1h30m") == 5400
    assert parse_duration("45s") == 45 and parse_duration("0") == 0
    with pytest.raises(UsageError):
        parse_duration("soon")
    assert ErrorBudget.parse("5%").allowed(40) == 2
    assert ErrorBudget.parse("5%").allowed(19) == 0
    assert ErrorBudget.parse("3").allowed(1000) == 3
    for bad in ("-1", "x", "120%"):
        with pytest.raises(UsageError):
            ErrorBudget.parse(bad)
    with pytest.raises(UsageError, match="unknown location"):
        Strategy.parse(region_order="mars", known_locations=["de", "us"])
    strategy = Strategy.parse(bake="2h", error_budget="5%", region_order="de")
    assert Strategy.from_dict(strategy.to_dict()) == strategy


def test_windows_open_close_wrap_midnight_and_next_open() -> None:
    berlin = Window.parse("02:00-06:00 Europe/Berlin")
    winter_3am_berlin = datetime(2026, 1, 10, 2, 0, tzinfo=UTC)  # 03:00 CET
    assert berlin.is_open(winter_3am_berlin)
    noon = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
    assert not berlin.is_open(noon)
    assert berlin.next_open(noon) == datetime(2026, 1, 11, 1, 0, tzinfo=UTC)
    night = Window.parse("22:00-02:00", "UTC")
    assert night.is_open(datetime(2026, 1, 10, 23, 0, tzinfo=UTC))
    assert night.is_open(datetime(2026, 1, 10, 1, 0, tzinfo=UTC))
    assert not night.is_open(datetime(2026, 1, 10, 3, 0, tzinfo=UTC))
    assert str(default_window("jp")) == "01:00-05:00 Asia/Tokyo"
    assert str(window_of("de", "03:00-04:00")) == "03:00-04:00 Europe/Berlin"
    for bad in ("3-4", "25:00-02:00", "02:00-02:00", "02:00-03:00 Mars/Base"):
        with pytest.raises(UsageError):
            Window.parse(bad)
