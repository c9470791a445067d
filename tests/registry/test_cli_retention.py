"""Every published retention rule at its boundary, through the CLI, on each database:
the instant before the due date nothing is due and `apply` changes nothing; at the instant
itself the action is due, `apply` records it once, and a second `apply` records nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from tests.registry.cli_helpers import US, actions_of, apply, at, ok_json, plan, run, snapshot
from tests.registry.conftest import T0

DAY = timedelta(days=1)
pytestmark = pytest.mark.usefixtures("cli_env")


def create(slug: str, plan_name: str, when: datetime = T0, *extra: str) -> None:
    ok_json(
        "tenants", "create", slug, "--location", "de", "--plan", plan_name, "--at", at(when), *extra
    )


def bill(slug: str, event: str, when: datetime, *extra: str) -> None:
    ok_json("billing", "record", slug, event, "--at", at(when), *extra)


def _trial() -> datetime:
    create("acme", "trial", T0, "--trial-days", "14")
    return T0 + 14 * DAY


def _trial_delete() -> datetime:
    return _trial() + 12 * DAY


def _cancelled() -> datetime:
    create("acme", "standard")
    bill("acme", "cancelled", T0 + 30 * DAY)
    return T0 + 30 * DAY + 90 * DAY


def _payment_suspend() -> datetime:
    create("acme", "enterprise")
    bill("acme", "payment_failed", T0 + 5 * DAY)
    return T0 + 5 * DAY + 15 * DAY


def _payment_close() -> datetime:
    return _payment_suspend() - 15 * DAY + 90 * DAY


def _payment_delete() -> datetime:
    closure = _payment_close()
    apply(closure)  # closed at day 90 exactly: deletion counts from the recorded closure
    assert snapshot("acme")["tenant"]["desired_state"] == "closed"
    return closure + 7 * DAY


def _free() -> datetime:
    create("acme", "free")
    bill("acme", "activity", T0 + 10 * DAY)
    return T0 + 10 * DAY + 60 * DAY


def _billing_purge() -> datetime:
    create("acme", "standard")
    bill("acme", "plan_changed", T0 + DAY, "--plan", "enterprise")
    return datetime(2033, 1, 2, tzinfo=T0.tzinfo)  # 7 calendar years after 2026-01-02


RULES: list[tuple[str, Callable[[], datetime], str, str]] = [
    ("trial-suspend", _trial, "suspend", "suspended"),
    ("trial-delete", _trial_delete, "delete", "deleted"),
    ("cancelled-delete", _cancelled, "delete", "deleted"),
    ("payment-suspend", _payment_suspend, "suspend", "suspended"),
    ("payment-close", _payment_close, "close", "closed"),
    ("payment-delete", _payment_delete, "delete", "deleted"),
    ("free-delete", _free, "delete", "deleted"),
    ("billing-purge", _billing_purge, "purge-billing", None),
]


@pytest.mark.parametrize(("name", "setup", "action", "state"), RULES, ids=[r[0] for r in RULES])
def test_rule_at_its_boundary(
    name: str, setup: Callable[[], datetime], action: str, state: str | None
) -> None:
    due = setup()
    before = snapshot("acme")

    assert action not in actions_of(plan(due - US), "acme")
    assert action not in actions_of(apply(due - US), "acme")
    early = snapshot("acme")
    if state is not None:  # nothing was done a microsecond early
        assert early["tenant"]["desired_state"] != state
    assert f"retention.{action}" not in [e["kind"] for e in early["events"]]
    assert early["tenant"]["plan"] == before["tenant"]["plan"]

    due_now = [a for a in plan(due) if a["tenant"] == "acme" and a["action"] == action]
    assert len(due_now) == 1
    assert due_now[0]["due"] == at(due)
    applied = apply(due)
    assert actions_of(applied, "acme").count(action) == 1
    assert apply(due) == []  # idempotent
    after = snapshot("acme")
    if state is not None:
        assert after["tenant"]["desired_state"] == state
    kinds = [e["kind"] for e in after["events"]]
    assert kinds.count(f"retention.{action}") == 1


def test_upcoming_lists_what_comes_without_applying_it() -> None:
    create("acme", "trial", T0, "--trial-days", "14")
    coming = plan(T0, upcoming=26)
    assert [(a["action"], a["due"]) for a in coming] == [
        ("suspend", at(T0 + 14 * DAY)),
        ("delete", at(T0 + 26 * DAY)),
    ]
    assert plan(T0, upcoming=25) == coming[:1]
    assert plan(T0) == []
    assert apply(T0) == []
    assert snapshot("acme")["tenant"]["desired_state"] == "active"


def test_activity_resets_the_free_clock() -> None:
    create("acme", "free")
    bill("acme", "activity", T0 + 59 * DAY)
    assert plan(T0 + 60 * DAY) == []
    assert actions_of(plan(T0 + 119 * DAY), "acme") == ["delete"]


def test_recovery_before_closure_restores_and_stops_the_clock() -> None:
    create("acme", "standard")
    failed = T0 + 3 * DAY
    bill("acme", "payment_failed", failed)
    apply(failed + 15 * DAY)
    assert snapshot("acme")["tenant"]["desired_state"] == "suspended"
    bill("acme", "payment_recovered", failed + 90 * DAY - US)
    assert snapshot("acme")["tenant"]["desired_state"] == "active"
    assert plan(failed + 400 * DAY) == []


def test_recovery_at_closure_is_refused_and_changes_nothing() -> None:
    create("acme", "standard")
    failed = T0 + 3 * DAY
    bill("acme", "payment_failed", failed)
    before = snapshot("acme")
    result = run("billing", "record", "acme", "payment_recovered", "--at", at(failed + 90 * DAY))
    assert result.exit_code == 2
    assert "closed" in result.stderr and result.stderr.count("\n") == 1
    assert snapshot("acme") == before


def test_billing_records_outlive_the_tenant(registry_url: str) -> None:
    from provisioner.registry import Registry

    create("acme", "standard")
    bill("acme", "cancelled", T0 + DAY)
    apply(T0 + DAY + 90 * DAY)
    assert snapshot("acme")["tenant"]["desired_state"] == "deleted"
    with Registry.open(registry_url) as reg:
        kinds = [r.kind for r in reg.billing_records("acme")]
    assert kinds == ["cancelled"]
    purge = datetime(2033, 1, 2, tzinfo=T0.tzinfo)
    assert actions_of(plan(purge - US), "acme") == []
    assert actions_of(apply(purge), "acme") == ["purge-billing"]
    with Registry.open(registry_url) as reg:
        assert reg.billing_records("acme") == []
        assert reg.get_tenant("acme").is_tombstone  # the tombstone stays


@pytest.fixture
def registry_url(cli_env: str) -> str:
    return cli_env
