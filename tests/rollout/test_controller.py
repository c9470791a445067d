"""The controller's decisions, one step at a time (pure: no registry, no clock)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from provisioner.rollout import controller as ctl
from provisioner.rollout.strategy import Strategy
from provisioner.rollout.windows import Window

NOW = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


def _rollout(**kw: object) -> ctl.RolloutView:
    base = ctl.RolloutView(
        id=1, release_id=2, state=ctl.RUNNING, wave=0, wave_names=("canary", "groups"),
        strategy=Strategy.parse(bake="30m", error_budget="1", in_flight=2),
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def _t(slug: str, status: str = ctl.PENDING, **kw: object) -> ctl.TenantView:
    return ctl.TenantView(slug=slug, location=str(kw.pop("location", "de")), status=status,
                          **kw)  # type: ignore[arg-type]


def test_targets_pending_tenants_up_to_the_in_flight_limit_per_region() -> None:
    tenants = [_t("a"), _t("b"), _t("c"), _t("d", location="us"), _t("e", ctl.TARGETED)]
    step = ctl.step(_rollout(), tenants, NOW)
    assert step.target == ["a", "d"]  # de has e in flight already: one more; us: one
    assert step.transition is None


def test_skips_deleted_held_and_pinned_tenants_with_the_reason() -> None:
    tenants = [
        _t("gone", desired_state="deleted"),
        _t("held", legal_hold=True),
        _t("pinned", pinned_until=NOW + timedelta(days=3), pin_reason="freeze"),
        _t("unpinned", pinned_until=NOW - timedelta(days=1)),
    ]
    step = ctl.step(_rollout(), tenants, NOW)
    assert set(step.skip) == {"gone", "held", "pinned"}
    assert "freeze" in step.skip["pinned"] and "legal hold" in step.skip["held"]
    assert step.target == ["unpinned"]


def test_waits_for_a_closed_window_unless_windows_are_ignored() -> None:
    window = Window.parse("02:00-06:00 Europe/Berlin")
    tenants = [_t("a", window=window)]
    step = ctl.step(_rollout(), tenants, NOW)
    assert step.target == [] and step.wake == window.next_open(NOW)
    assert "maintenance window" in (ctl.wait_reason(tenants[0], _rollout().strategy, NOW) or "")
    urgent = _rollout(strategy=replace(_rollout().strategy, ignore_windows=True))
    assert ctl.step(urgent, tenants, NOW).target == ["a"]


def test_halts_when_failures_exceed_the_budget_and_withdraws_unclaimed_targets() -> None:
    tenants = [_t("a", ctl.FAILED), _t("b", ctl.FAILED), _t("c", ctl.TARGETED),
               _t("d", ctl.TARGETED, lease_held=True), _t("e")]
    step = ctl.step(_rollout(), tenants, NOW)
    assert step.transition == "halt" and step.failing == ["a", "b"]
    assert "2 of 5" in step.reason and "budget 1" in step.reason
    assert step.withdraw == ["c"]  # d is being updated by a worker: left to finish
    assert step.target == []
    # Within the budget (one failure): no halt.
    assert ctl.step(_rollout(), tenants[1:], NOW).transition is None
    # A resume accepted the two failures: only new ones count.
    assert ctl.step(_rollout(accepted_failures=2), tenants, NOW).transition is None


def test_halted_and_paused_rollouts_start_nothing() -> None:
    tenants = [_t("a"), _t("b", ctl.TARGETED)]
    for state in (ctl.HALTED, ctl.PAUSED, ctl.ABORTED):
        step = ctl.step(_rollout(state=state), tenants, NOW)
        assert step.target == [] and step.withdraw == ["b"] and step.transition is None


def test_a_wave_verifies_then_bakes_then_checks_again_then_advances() -> None:
    applied = [_t("a", ctl.APPLIED), _t("b", ctl.HEALTHY)]
    step = ctl.step(_rollout(), applied, NOW)
    assert step.verify == ["a"] and step.transition is None
    settled = [_t("a", ctl.HEALTHY), _t("b", ctl.SKIPPED)]
    step = ctl.step(_rollout(), settled, NOW)
    assert step.transition == "bake" and step.wake == NOW + timedelta(minutes=30)
    baking = _rollout(wave_finished_at=NOW)
    assert ctl.step(baking, settled, NOW + timedelta(minutes=29)).transition is None
    after = NOW + timedelta(minutes=30)
    step = ctl.step(baking, settled, after)
    assert step.final_check and step.verify == ["a"] and step.transition is None
    step = ctl.step(replace(baking, wave_checked=True), settled, after)
    assert step.transition == "advance"
    last = replace(baking, wave_checked=True, wave=1)
    assert ctl.step(last, settled, after).transition == "complete"
