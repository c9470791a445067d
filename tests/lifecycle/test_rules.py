"""The retention rules, pure: each at its boundary (the instant before and the instant of), and
the edges of the calendar (29 February, time zones)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest

from provisioner import lifecycle, retention
from provisioner.lifecycle import Facts

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
US = timedelta(microseconds=1)


def kinds(facts: Facts, at: datetime) -> list[str]:
    return [a.action for a in retention.due(facts, at)]


def trial() -> Facts:
    return lifecycle.new_tenant("acme", "trial", T0, trial_days=14)


def paid() -> Facts:
    return lifecycle.new_tenant("acme", "standard", T0)


def event(facts: Facts, kind: str, at: datetime, plan: str | None = None) -> Facts:
    return lifecycle.billing_event(facts, kind, at, plan)[0]


def test_trial_suspends_at_its_end_and_deletes_12_days_later() -> None:
    end = T0 + 14 * DAY
    assert kinds(trial(), end - US) == []
    assert kinds(trial(), end) == ["suspend"]
    assert kinds(trial(), end + 12 * DAY - US) == ["suspend"]
    assert kinds(trial(), end + 12 * DAY) == ["suspend", "delete"]
    settled, applied = retention.settle(trial(), end + 12 * DAY)
    assert [a.action for a in applied] == ["suspend", "delete"]
    assert settled.state == "deleted" and settled.deleted_by == "trial-ended"


def test_converted_trial_has_no_clock() -> None:
    facts = event(trial(), "converted", T0 + 13 * DAY)
    assert retention.scheduled(facts, T0 + 1000 * DAY) == []


def test_cancelled_paid_deleted_90_days_after_cancellation() -> None:
    cancelled = T0 + 40 * DAY
    facts = event(paid(), "cancelled", cancelled)
    assert facts.state == "closed" and facts.closed_by == "cancelled-paid"
    assert kinds(facts, cancelled + 90 * DAY - US) == []
    assert kinds(facts, cancelled + 90 * DAY) == ["delete"]


def test_failed_payment_suspends_day_15_closes_day_90() -> None:
    failed = T0 + 3 * DAY
    facts = event(paid(), "payment_failed", failed)
    assert kinds(facts, failed + 15 * DAY - US) == []
    assert kinds(facts, failed + 15 * DAY) == ["suspend"]
    assert kinds(facts, failed + 90 * DAY - US) == ["suspend"]
    assert kinds(facts, failed + 90 * DAY) == ["suspend", "close"]


def test_failed_payment_deletes_7_days_after_the_recorded_closure() -> None:
    failed = T0 + 3 * DAY
    facts = event(paid(), "payment_failed", failed)
    late = failed + 95 * DAY  # the sweep ran five days late
    closed, applied = retention.settle(facts, late)
    assert [a.action for a in applied] == ["suspend", "close"]
    assert closed.closed_at == late
    assert kinds(closed, late + 7 * DAY - US) == []  # not failed + 97 days: never early
    assert kinds(closed, late + 7 * DAY) == ["delete"]


def test_projection_of_a_payment_deletion_is_never_earlier_than_apply_allows() -> None:
    failed = T0
    facts = event(paid(), "payment_failed", failed)
    now = failed + 100 * DAY  # closure overdue, not recorded
    projected = [a for a in retention.scheduled(facts, now) if a.action == "delete"]
    assert projected[0].due == now + 7 * DAY


def test_recovery_before_closure_restores_and_stops_the_clock() -> None:
    failed = T0
    facts, _ = retention.settle(event(paid(), "payment_failed", failed), failed + 20 * DAY)
    assert facts.state == "suspended" and facts.suspended_by == "payment-failed"
    recovered = event(facts, "payment_recovered", failed + 90 * DAY - US)
    assert recovered.state == "active"
    assert retention.scheduled(recovered, failed + 1000 * DAY) == []


def test_recovery_at_closure_is_refused() -> None:
    facts = event(paid(), "payment_failed", T0)
    with pytest.raises(lifecycle.IllegalTransition, match="closure was due"):
        event(facts, "payment_recovered", T0 + 90 * DAY)


def test_a_second_failure_does_not_restart_the_clock() -> None:
    facts = event(event(paid(), "payment_failed", T0), "payment_failed", T0 + 10 * DAY)
    assert facts.payment_failed_at == T0
    assert kinds(facts, T0 + 15 * DAY) == ["suspend"]


def test_a_failure_after_a_recovery_starts_a_new_clock() -> None:
    facts = event(event(paid(), "payment_failed", T0), "payment_recovered", T0 + DAY)
    facts = event(facts, "payment_failed", T0 + 30 * DAY)
    assert kinds(facts, T0 + 45 * DAY - US) == []
    assert kinds(facts, T0 + 45 * DAY) == ["suspend"]


def test_free_deleted_after_60_days_without_activity() -> None:
    facts = lifecycle.new_tenant("acme", "free", T0)
    assert kinds(facts, T0 + 60 * DAY - US) == []
    assert kinds(facts, T0 + 60 * DAY) == ["delete"]
    active = event(facts, "activity", T0 + 59 * DAY)
    assert kinds(active, T0 + 119 * DAY - US) == []
    assert kinds(active, T0 + 119 * DAY) == ["delete"]


def test_an_older_activity_does_not_move_the_clock_back() -> None:
    facts = event(lifecycle.new_tenant("acme", "free", T0), "activity", T0 + 30 * DAY)
    facts = dataclasses.replace(facts, last_event_at=T0)  # replayed out of band
    facts = event(facts, "activity", T0 + 10 * DAY)
    assert facts.last_activity_at == T0 + 30 * DAY


def test_downgrade_to_free_starts_the_inactivity_clock_at_the_change() -> None:
    facts = event(paid(), "plan_changed", T0 + 100 * DAY, plan="free")
    assert kinds(facts, T0 + 160 * DAY - US) == []
    assert kinds(facts, T0 + 160 * DAY) == ["delete"]


def test_operator_hold_on_a_trial_does_not_stop_its_clock() -> None:
    held = lifecycle.suspend(trial(), T0 + DAY)
    assert kinds(held, T0 + 14 * DAY) == []  # already suspended: no second suspension
    assert kinds(held, T0 + 26 * DAY) == ["delete"]


@pytest.mark.parametrize(
    ("occurred", "purge"),
    [
        (datetime(2026, 1, 2, tzinfo=UTC), datetime(2033, 1, 2, tzinfo=UTC)),
        (datetime(2024, 2, 29, 10, tzinfo=UTC), datetime(2031, 3, 1, 10, tzinfo=UTC)),
        (datetime(2025, 2, 28, tzinfo=UTC), datetime(2032, 2, 28, tzinfo=UTC)),
    ],
)
def test_billing_records_kept_7_calendar_years(occurred: datetime, purge: datetime) -> None:
    assert retention.billing_purge_due(occurred) == purge
    action = retention.purge_action("acme", occurred, 1)
    assert action.due == purge and action.action == "purge-billing"


def test_instants_in_other_zones_compare_as_instants() -> None:
    tokyo = timezone(timedelta(hours=9))
    facts = lifecycle.new_tenant("acme", "trial", datetime(2026, 1, 1, 9, tzinfo=tokyo), 14)
    assert kinds(facts, datetime(2026, 1, 15, 0, 0, tzinfo=UTC) - US) == []
    assert kinds(facts, datetime(2026, 1, 15, 0, 0, tzinfo=UTC)) == ["suspend"]


def test_apply_refuses_an_action_not_yet_due() -> None:
    action = retention.due(trial(), T0 + 14 * DAY)[0]
    with pytest.raises(ValueError, match="is due"):
        retention.apply(trial(), action, T0 + 14 * DAY - US)


def test_action_json_shape() -> None:
    action = retention.due(trial(), T0 + 14 * DAY)[0]
    assert action.to_dict() == {
        "tenant": "acme",
        "action": "suspend",
        "due": "2026-01-15T12:00:00Z",
        "rule": "trial-ended",
        "reason": "trial ended 2026-01-15T12:00:00Z",
    }
