"""The pure decisions: which action moves observed to desired, how long to back off, and the
one-word status the API shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provisioner import lifecycle
from provisioner.api.models import BillingEventRequest
from provisioner.reconcile import Action, decide, retry_delay, status_of


def act(desired: str, observed: str | None, *, ever: bool = True, pv: str = "v1",
        plan: str = "trial") -> Action:  # fmt: skip
    return decide(
        desired,
        observed,
        ever_reconciled=ever,
        program_version="v1",
        observed_program_version=pv,
        plan="trial",
        observed_plan=plan,
    )


@pytest.mark.parametrize(
    ("desired", "observed", "ever", "expected"),
    [
        ("active", None, False, Action.CREATE),
        ("active", "failed", False, Action.CREATE),
        ("active", "failed", True, Action.UPDATE),
        ("active", "suspended", True, Action.RESUME),
        ("active", "closed", True, Action.RESUME),
        ("active", "active", True, Action.NOOP),
        ("suspended", None, False, Action.NOOP),
        ("suspended", "active", True, Action.SUSPEND),
        ("suspended", "failed", False, Action.SUSPEND),
        ("closed", "suspended", True, Action.NOOP),
        ("closed", "active", True, Action.SUSPEND),
        ("deleted", None, False, Action.DESTROY),
        ("deleted", "suspended", True, Action.DESTROY),
        ("deleted", "deleted", True, Action.NOOP),
    ],
)
def test_decide(desired: str, observed: str | None, ever: bool, expected: Action) -> None:
    assert act(desired, observed, ever=ever) is expected


def test_an_older_program_or_another_plan_means_update() -> None:
    assert act("active", "active", pv="v0") is Action.UPDATE
    assert act("active", "active", plan="standard") is Action.UPDATE
    assert act("suspended", "suspended", pv="v0") is Action.NOOP  # updated on resume


@given(st.integers(1, 40), st.floats(0, 1))
def test_retry_delay_doubles_is_capped_and_jittered(attempt: int, r: float) -> None:
    delay = retry_delay(attempt, base=30, cap=3600, rand=lambda: r)
    step = min(3600, 30 * 2 ** (attempt - 1))
    assert step / 2 <= delay <= step


@dataclass
class T:
    desired_state: str
    observed_state: str | None
    generation: int = 1
    observed_generation: int | None = None
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    last_error: str | None = None
    attempt_generation: int | None = None
    next_attempt_at: datetime | None = None


NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_status_words() -> None:
    assert status_of(T("active", None), NOW) == "pending"
    assert status_of(T("active", None, last_error="x"), NOW) == "retrying"
    leased = T("active", None, lease_owner="w", lease_expires_at=NOW + timedelta(seconds=5))
    assert status_of(leased, NOW) == "reconciling"
    assert status_of(T("active", "active", observed_generation=1), NOW) == "ready"
    assert status_of(T("active", "active", generation=2, observed_generation=1), NOW) == "pending"
    assert status_of(T("suspended", "suspended", observed_generation=1), NOW) == "suspended"
    assert status_of(T("deleted", "suspended", observed_generation=1), NOW) == "deleting"
    assert status_of(T("deleted", "deleted", observed_generation=1), NOW) == "deleted"
    spent = T("active", "failed", observed_generation=1, attempt_generation=1)
    assert status_of(spent, NOW) == "failed"
    # `tenants retry` resets the attempts: retrying until it gives up again.
    assert status_of(T("active", "failed", observed_generation=1), NOW) == "retrying"
    between = T("active", "failed", attempt_generation=1, next_attempt_at=NOW)
    assert status_of(between, NOW) == "retrying"
    running = T("active", "failed", attempt_generation=1, lease_owner="w",
                lease_expires_at=NOW + timedelta(seconds=5))  # fmt: skip
    assert status_of(running, NOW) == "reconciling"
    moved = T("suspended", "failed", generation=2, attempt_generation=1)  # a new desired state
    assert status_of(moved, NOW) == "retrying"


def test_the_api_accepts_exactly_the_lifecycle_billing_events() -> None:
    kinds = BillingEventRequest.model_fields["kind"].annotation.__args__  # type: ignore[union-attr]
    assert set(kinds) == set(lifecycle.BILLING_EVENTS)
