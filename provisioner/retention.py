"""The published retention rules, as a pure function of a tenant's lifecycle facts and an instant.

The rules, exactly as the product's security overview publishes them:

- trial not converted: service suspended when the trial ends; data deleted 12 days after it;
- paid account cancelled: data deleted 90 days after the cancellation date;
- failed payment: suspended 15 days after the failure, closed 90 days after it, all data deleted
  7 days after closure; a recovered payment before closure restores service and stops the clock;
- free account: data deleted after 60 days without activity (activity resets the clock);
- billing records: kept 7 years, then purged; never deleted with the tenant.

An action is due at `due` and may be applied at any instant `at >= due`, never before. Deletion 7
days after a payment closure counts from the instant the closure was recorded: a late sweep
delays the deletion, it never shortens the week the customer was promised.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from provisioner.lifecycle import (
    ACTIVE,
    CLOSED,
    DELETED,
    RULE_BILLING,
    RULE_CANCELLED,
    RULE_FREE,
    RULE_PAYMENT,
    RULE_TRIAL,
    SUSPENDED,
    Facts,
)

TRIAL_DELETE_AFTER = timedelta(days=12)  # after the trial's end
CANCELLED_DELETE_AFTER = timedelta(days=90)  # after the cancellation date
PAYMENT_SUSPEND_AFTER = timedelta(days=15)  # after the (first, unrecovered) failure
PAYMENT_CLOSE_AFTER = timedelta(days=90)  # after the failure
PAYMENT_DELETE_AFTER_CLOSURE = timedelta(days=7)  # after the recorded closure
FREE_INACTIVE_DELETE_AFTER = timedelta(days=60)  # after the last activity
BILLING_KEEP_YEARS = 7

SUSPEND, CLOSE, DELETE, PURGE_BILLING = "suspend", "close", "delete", "purge-billing"
ACTIONS: tuple[str, ...] = (SUSPEND, CLOSE, DELETE, PURGE_BILLING)
_TARGET = {SUSPEND: SUSPENDED, CLOSE: CLOSED, DELETE: DELETED}


_REASONS = {
    (RULE_TRIAL, SUSPEND): "trial ended {basis}",
    (RULE_TRIAL, DELETE): "trial ended {basis} and was not converted: data deleted 12 days after",
    (RULE_FREE, DELETE): "free account without activity since {basis}: data deleted after 60 days",
    (RULE_CANCELLED, DELETE): "paid account cancelled {basis}: data deleted 90 days after",
    (RULE_PAYMENT, SUSPEND): "payment failed {basis}: suspended on day 15",
    (RULE_PAYMENT, CLOSE): "payment failed {basis}: closed on day 90",
    (RULE_PAYMENT, DELETE): "closed {basis} after a failed payment: data deleted 7 days after",
    (RULE_BILLING, PURGE_BILLING): "{count} billing record(s) from {basis} on: kept 7 years",
}


@dataclass(frozen=True)
class Action:
    """One thing the retention clock makes due for one tenant."""

    tenant: str  # the slug
    action: str  # one of ACTIONS
    due: datetime  # the earliest instant it may be applied
    rule: str  # lifecycle.RULE_*
    basis: datetime  # the instant the rule counts from (trial end, cancellation, ...)
    count: int = 0  # purge-billing: how many records
    held_by: int | None = None  # delete: the open incident that pauses it (not applied)

    @property
    def reason(self) -> str:
        """One line a person (or a regulator) can read; built only when shown (plans are big)."""
        template = _REASONS[(self.rule, self.action)]
        return template.format(basis=iso(self.basis), count=self.count)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "tenant": self.tenant,
            "action": self.action,
            "due": iso(self.due),
            "rule": self.rule,
            "reason": self.reason,
        }
        if self.held_by is not None:
            out["held_by"] = f"incident {self.held_by}"
        return out


def iso(value: datetime) -> str:
    """An instant as ISO 8601 in UTC with a Z, the form every JSON output uses."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def add_years(value: datetime, years: int) -> datetime:
    """`value` plus calendar years; 29 February moves to 1 March (later, never earlier)."""
    try:
        return value.replace(year=value.year + years)
    except ValueError:  # 29 February into a common year
        return value.replace(year=value.year + years, month=3, day=1)


def billing_purge_due(occurred_at: datetime) -> datetime:
    """When a billing record dated `occurred_at` may be purged (7 calendar years on)."""
    return add_years(occurred_at, BILLING_KEEP_YEARS)


def target_state(action: str) -> str:
    """The desired state an action records (purge-billing changes none: the tenant's own)."""
    return _TARGET.get(action, "")


def scheduled(facts: Facts, at: datetime) -> list[Action]:
    """Every action the rules schedule from `facts` as they stand at `at`, due or not, in order.

    Steps after one not yet applied are projected as if it were applied at `max(due, at)` (a
    payment deletion counts from the closure, which has not happened yet), so projections are
    never earlier than what `apply` will later allow.
    """
    slug, state, out = facts.slug, facts.state, list[Action]()
    if state == DELETED:
        return out
    live = state in (ACTIVE, SUSPENDED)
    if live and facts.trial_running:
        end = facts.trial_ends_at
        assert end is not None
        if state == ACTIVE:
            out.append(Action(slug, SUSPEND, end, RULE_TRIAL, end))
        out.append(Action(slug, DELETE, end + TRIAL_DELETE_AFTER, RULE_TRIAL, end))
    elif live and facts.plan == "free":
        last = facts.last_activity_at or facts.created_at
        out.append(Action(slug, DELETE, last + FREE_INACTIVE_DELETE_AFTER, RULE_FREE, last))
    elif state == CLOSED and facts.closed_by == RULE_CANCELLED:
        cancelled = facts.cancelled_at
        assert cancelled is not None
        out.append(
            Action(slug, DELETE, cancelled + CANCELLED_DELETE_AFTER, RULE_CANCELLED, cancelled)
        )
    elif state == CLOSED and facts.closed_by == RULE_PAYMENT:
        closed = facts.closed_at
        assert closed is not None
        out.append(
            Action(slug, DELETE, closed + PAYMENT_DELETE_AFTER_CLOSURE, RULE_PAYMENT, closed)
        )
    elif live and facts.payment_failure_open and facts.paid:
        failed = facts.payment_failed_at
        assert failed is not None
        if state == ACTIVE:
            out.append(Action(slug, SUSPEND, failed + PAYMENT_SUSPEND_AFTER, RULE_PAYMENT, failed))
        close = failed + PAYMENT_CLOSE_AFTER
        out.append(Action(slug, CLOSE, close, RULE_PAYMENT, failed))
        closure = max(close, at)  # projected: deletion counts from the recorded closure
        out.append(
            Action(slug, DELETE, closure + PAYMENT_DELETE_AFTER_CLOSURE, RULE_PAYMENT, closure)
        )
    return out


@dataclass(frozen=True)
class Cutoffs:
    """A coarse test the database can run: a tenant can have an action due by `until` only if
    one of its clock dates is at or before the matching cutoff (each rule's earliest action
    counts from that date with the smallest offset). Rows failing all five are skipped without
    running the rules; the rules still decide exactly for the rest. `may_be_due` is the same test
    in Python, and the tests check that nothing due is ever filtered out."""

    trial_ends: datetime  # trial_ends_at (unconverted): suspended at the end itself
    free_last_activity: datetime  # last_activity_at (or created_at): deleted 60 days after
    cancelled: datetime  # cancelled_at: deleted 90 days after
    closed: datetime  # closed_at: a payment closure's deletion, 7 days after
    payment_failed: datetime  # payment_failed_at: suspended 15 days after (the earliest step)


def cutoffs(until: datetime) -> Cutoffs:
    return Cutoffs(
        trial_ends=until,
        free_last_activity=until - FREE_INACTIVE_DELETE_AFTER,
        cancelled=until - CANCELLED_DELETE_AFTER,
        closed=until - PAYMENT_DELETE_AFTER_CLOSURE,
        payment_failed=until - PAYMENT_SUSPEND_AFTER,
    )


def may_be_due(facts: Facts, cut: Cutoffs) -> bool:
    """The Python twin of the database's coarse filter (see Cutoffs)."""

    def before(value: datetime | None, cutoff: datetime) -> bool:
        return value is not None and value <= cutoff

    return facts.state != DELETED and (
        (facts.converted_at is None and before(facts.trial_ends_at, cut.trial_ends))
        or (
            facts.plan == "free"
            and before(facts.last_activity_at or facts.created_at, cut.free_last_activity)
        )
        or before(facts.cancelled_at, cut.cancelled)
        or before(facts.closed_at, cut.closed)
        or before(facts.payment_failed_at, cut.payment_failed)
    )


def due(facts: Facts, at: datetime, until: datetime | None = None) -> list[Action]:
    """Actions due at `at` (and, with `until`, those coming up to `until`), in due order."""
    horizon = at if until is None else max(at, until)
    return [a for a in scheduled(facts, at) if a.due <= horizon]


def apply(facts: Facts, action: Action, at: datetime) -> Facts:
    """The facts after `action` is applied at `at`. Refuses (ValueError) an action not yet due."""
    if action.due > at:
        raise ValueError(
            f"{action.action} for {facts.slug} is due {iso(action.due)}, not {iso(at)}"
        )
    target = _TARGET[action.action]
    stamp = max(facts.last_event_at, at)
    if action.action == SUSPEND:
        return replace(
            facts, state=target, suspended_at=at, suspended_by=action.rule, last_event_at=stamp
        )
    if action.action == CLOSE:
        return replace(
            facts, state=target, closed_at=at, closed_by=action.rule, last_event_at=stamp
        )
    return replace(facts, state=target, deleted_at=at, deleted_by=action.rule, last_event_at=stamp)


def settle(facts: Facts, at: datetime, *, held: bool = False) -> tuple[Facts, list[Action]]:
    """Apply every action due at `at`, one after another; returns the facts and what was applied.
    `held`: an open incident holds the tenant, so its deletion (and nothing else) waits.

    Idempotent: settling the result again at the same instant applies nothing.
    """
    applied: list[Action] = []
    while True:
        pending = due(facts, at)
        if not pending or (held and pending[0].action == DELETE):
            return facts, applied
        facts = apply(facts, pending[0], at)
        applied.append(pending[0])


def suspension_rule(facts: Facts, at: datetime) -> str | None:
    """The rule that says this tenant must be suspended at `at`, if any (blocks `resume`)."""
    if facts.trial_running and facts.trial_ends_at is not None and at >= facts.trial_ends_at:
        return RULE_TRIAL
    if (
        facts.paid
        and facts.payment_failure_open
        and facts.payment_failed_at is not None
        and at >= facts.payment_failed_at + PAYMENT_SUSPEND_AFTER
    ):
        return RULE_PAYMENT
    return None


def purge_action(slug: str, oldest: datetime, count: int) -> Action:
    """The purge of a tenant's billing records older than 7 years (`count` of them)."""
    return Action(slug, PURGE_BILLING, billing_purge_due(oldest), RULE_BILLING, oldest, count)


def settle_before(facts: Facts, at: datetime, what: str) -> tuple[Facts, list[Action]]:
    """Settle the clock up to `at` before a change at `at`; refuse it if deletion was due.

    The world at `at` includes every retention action due by then, whether or not a sweep has
    run: a conversion or an activity arriving after the deletion date must not save data the
    published rules say is gone.
    """
    from provisioner.errors import IllegalTransition

    settled, applied = settle(facts, at)
    for action in applied:
        if action.action == DELETE:
            raise IllegalTransition(
                f"cannot {what} tenant {facts.slug!r}: its data deletion was due at"
                f" {iso(action.due)} ({action.rule}); run `provisioner retention apply`",
                tenant=facts.slug,
                rule=action.rule,
            )
    return settled, applied
