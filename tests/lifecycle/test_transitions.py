"""Every lifecycle transition: each operation from each kind of state, allowed or refused.

A refused transition raises IllegalTransition (or UsageError for bad input), both exit 2 at the
CLI; the facts passed in are frozen, so a refusal cannot have changed them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from provisioner import lifecycle, retention
from provisioner.errors import IllegalTransition, UsageError
from provisioner.lifecycle import Facts

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
AT = T0 + 20 * DAY  # when each operation is tried


def _settled(facts: Facts, at: datetime) -> Facts:
    return retention.settle(facts, at)[0]


def _ev(facts: Facts, kind: str, at: datetime, plan: str | None = None) -> Facts:
    return lifecycle.billing_event(facts, kind, at, plan)[0]


def _paid(at: datetime = T0) -> Facts:
    return lifecycle.new_tenant("acme", "standard", at)


# Starting points: every state, and who put the tenant there.
STARTS: dict[str, Callable[[], Facts]] = {
    "trial-active": lambda: lifecycle.new_tenant("acme", "trial", T0, 30),
    "trial-suspended-by-rule": lambda: _settled(lifecycle.new_tenant("acme", "trial", T0, 10), AT),
    "free-active": lambda: lifecycle.new_tenant("acme", "free", T0 + 10 * DAY),
    "free-held": lambda: lifecycle.suspend(lifecycle.new_tenant("acme", "free", T0), T0 + 10 * DAY),
    "paid-active": lambda: _paid(),
    "paid-held": lambda: lifecycle.suspend(_paid(), T0 + DAY),
    "paid-failing": lambda: _ev(_paid(), "payment_failed", T0 + 10 * DAY),
    "paid-suspended-by-rule": lambda: _settled(
        _ev(_paid(), "payment_failed", T0), AT
    ),
    "closed-cancelled": lambda: _ev(_paid(), "cancelled", T0 + DAY),
    "closed-payment": lambda: _settled(
        _ev(_paid(T0 - 100 * DAY), "payment_failed", T0 - 100 * DAY),
        T0 + DAY,
    ),
    "deleted": lambda: _settled(lifecycle.new_tenant("acme", "free", T0 - 100 * DAY), T0),
}  # fmt: skip

OPS: dict[str, Callable[[Facts], Facts]] = {
    "suspend": lambda f: lifecycle.suspend(f, AT),
    "resume": lambda f: lifecycle.resume(f, AT, retention.suspension_rule(f, AT)),
    "converted": lambda f: _ev(f, "converted", AT),
    "cancelled": lambda f: _ev(f, "cancelled", AT),
    "payment_failed": lambda f: _ev(f, "payment_failed", AT),
    "payment_recovered": lambda f: _ev(f, "payment_recovered", AT),
    "activity": lambda f: _ev(f, "activity", AT),
    "plan_changed:enterprise": lambda f: _ev(f, "plan_changed", AT, "enterprise"),
    "plan_changed:free": lambda f: _ev(f, "plan_changed", AT, "free"),
}

# (start, op) -> resulting state (and plan), or None for refused. Every pair is listed.
R = None
EXPECTED: dict[str, dict[str, tuple[str, str] | None]] = {
    "trial-active": {
        "suspend": ("suspended", "trial"), "resume": R, "converted": ("active", "standard"),
        "cancelled": R, "payment_failed": R, "payment_recovered": R,
        "activity": ("active", "trial"), "plan_changed:enterprise": R, "plan_changed:free": R,
    },
    "trial-suspended-by-rule": {
        "suspend": R, "resume": R, "converted": ("active", "standard"),
        "cancelled": R, "payment_failed": R, "payment_recovered": R,
        "activity": ("suspended", "trial"), "plan_changed:enterprise": R, "plan_changed:free": R,
    },
    "free-active": {
        "suspend": ("suspended", "free"), "resume": R, "converted": ("active", "standard"),
        "cancelled": R, "payment_failed": R, "payment_recovered": R,
        "activity": ("active", "free"), "plan_changed:enterprise": R, "plan_changed:free": R,
    },
    "free-held": {
        "suspend": R, "resume": ("active", "free"), "converted": ("suspended", "standard"),
        "cancelled": R, "payment_failed": R, "payment_recovered": R,
        "activity": ("suspended", "free"), "plan_changed:enterprise": R, "plan_changed:free": R,
    },
    "paid-active": {
        "suspend": ("suspended", "standard"), "resume": R, "converted": R,
        "cancelled": ("closed", "standard"), "payment_failed": ("active", "standard"),
        "payment_recovered": R, "activity": ("active", "standard"),
        "plan_changed:enterprise": ("active", "enterprise"),
        "plan_changed:free": ("active", "free"),
    },
    "paid-held": {
        "suspend": R, "resume": ("active", "standard"), "converted": R,
        "cancelled": ("closed", "standard"), "payment_failed": ("suspended", "standard"),
        "payment_recovered": R, "activity": ("suspended", "standard"),
        "plan_changed:enterprise": ("suspended", "enterprise"),
        "plan_changed:free": ("suspended", "free"),
    },
    "paid-failing": {
        "suspend": ("suspended", "standard"), "resume": R, "converted": R,
        "cancelled": ("closed", "standard"), "payment_failed": ("active", "standard"),
        "payment_recovered": ("active", "standard"), "activity": ("active", "standard"),
        "plan_changed:enterprise": ("active", "enterprise"), "plan_changed:free": R,
    },
    "paid-suspended-by-rule": {
        "suspend": R, "resume": R, "converted": R,
        "cancelled": ("closed", "standard"), "payment_failed": ("suspended", "standard"),
        "payment_recovered": ("active", "standard"), "activity": ("suspended", "standard"),
        "plan_changed:enterprise": ("suspended", "enterprise"), "plan_changed:free": R,
    },
    "closed-cancelled": {
        "suspend": R, "resume": R, "converted": R, "cancelled": R, "payment_failed": R,
        "payment_recovered": R, "activity": ("closed", "standard"),
        "plan_changed:enterprise": R, "plan_changed:free": R,
    },
    "closed-payment": {
        "suspend": R, "resume": R, "converted": R, "cancelled": R, "payment_failed": R,
        "payment_recovered": R, "activity": ("closed", "standard"),
        "plan_changed:enterprise": R, "plan_changed:free": R,
    },
    "deleted": {op: R for op in OPS},
}  # fmt: skip


def test_the_table_covers_every_start_and_operation() -> None:
    assert set(EXPECTED) == set(STARTS)
    for start, row in EXPECTED.items():
        assert set(row) == set(OPS), start


@pytest.mark.parametrize(
    ("start", "op"), [(s, o) for s in STARTS for o in OPS], ids=lambda v: str(v)
)
def test_transition(start: str, op: str) -> None:
    facts = STARTS[start]()
    expected = EXPECTED[start][op]
    if expected is None:
        with pytest.raises((IllegalTransition, UsageError)):
            OPS[op](facts)
        return
    new = OPS[op](facts)
    assert (new.state, new.plan) == expected
    assert new.last_event_at == AT


def test_states_are_reached_from_the_start_states() -> None:
    assert {f().state for f in STARTS.values()} == set(lifecycle.STATES)


def test_events_out_of_time_order_are_refused() -> None:
    facts = lifecycle.new_tenant("acme", "free", T0)
    with pytest.raises(UsageError, match="time order"):
        lifecycle.billing_event(facts, "activity", T0 - timedelta(microseconds=1))
    with pytest.raises(UsageError, match="time order"):
        lifecycle.suspend(facts, T0 - timedelta(microseconds=1))


def test_bad_input_is_a_usage_error() -> None:
    facts = _paid()
    with pytest.raises(UsageError, match="unknown billing event"):
        lifecycle.billing_event(facts, "refund", AT)
    with pytest.raises(UsageError, match="a plan applies to converted"):
        lifecycle.billing_event(facts, "activity", AT, "free")
    with pytest.raises(UsageError, match="unknown plan"):
        lifecycle.new_tenant("acme", "gold", T0)
    with pytest.raises(UsageError, match="out of range"):
        lifecycle.new_tenant("acme", "trial", T0, 0)
    with pytest.raises(UsageError, match="paid plan"):
        lifecycle.billing_event(lifecycle.new_tenant("acme", "trial", T0), "converted", AT, "free")
