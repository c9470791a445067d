"""Tenant lifecycle: states, the transitions allowed between them, and billing events. Pure.

No database, no clock: every function takes the instant it reasons about (`at`) and the tenant's
lifecycle facts (`Facts`), and returns new facts or raises IllegalTransition (a UsageError, exit
2). The registry stores the facts; `provisioner.retention` computes what the clock makes due.

States (the tenant's desired state, what the reconciler makes true):

    active ──suspend──> suspended ──resume──> active
      │  \\                 │
      │   cancelled         │ cancelled / retention close
      v    v                v
    closed ──retention delete──> deleted (tombstone: the row stays, with deletion evidence)
    active/suspended ──retention delete (trial, free)──> deleted

Who suspends matters: an operator's suspension is lifted only by `resume`; a suspension by a
retention rule (trial ended, payment failed) is lifted only by the billing event that stops that
rule's clock (`converted`, `payment_recovered`). Time never runs backwards for one tenant: an
event dated before the tenant's last recorded change is refused, so histories replay in order.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from provisioner.errors import IllegalTransition, UsageError
from provisioner.plans import PLANS

ACTIVE, SUSPENDED, CLOSED, DELETED = "active", "suspended", "closed", "deleted"
STATES: tuple[str, ...] = (ACTIVE, SUSPENDED, CLOSED, DELETED)
FAILED = "failed"  # an observed state only: the workers gave up on the tenant

# Billing events the CLI and `billing import` accept.
CONVERTED = "converted"
CANCELLED = "cancelled"
PAYMENT_FAILED = "payment_failed"
PAYMENT_RECOVERED = "payment_recovered"
ACTIVITY = "activity"
PLAN_CHANGED = "plan_changed"
BILLING_EVENTS: tuple[str, ...] = (
    CONVERTED, CANCELLED, PAYMENT_FAILED, PAYMENT_RECOVERED, ACTIVITY, PLAN_CHANGED,
)  # fmt: skip
# Events that are billing data (kept 7 years in billing_records); `activity` is usage, not billing.
BILLING_DATA_EVENTS = frozenset(BILLING_EVENTS) - {ACTIVITY}

# Who suspended or closed a tenant (the rule's name, or the operator).
BY_OPERATOR = "operator"
RULE_TRIAL = "trial-ended"
RULE_CANCELLED = "cancelled-paid"
RULE_PAYMENT = "payment-failed"
RULE_FREE = "free-inactive"
RULE_BILLING = "billing-7-years"

DEFAULT_TRIAL_DAYS = 14
DEFAULT_CONVERSION_PLAN = "standard"


@dataclass(frozen=True)
class Facts:
    """What the lifecycle and the retention clock are a function of (all instants aware UTC)."""

    slug: str
    plan: str  # a key of provisioner.plans.PLANS
    state: str  # one of STATES (the desired state)
    created_at: datetime
    last_event_at: datetime  # the latest instant any change was recorded at (time's arrow)
    trial_ends_at: datetime | None = None  # trial plan only
    converted_at: datetime | None = None  # trial or free became paid
    cancelled_at: datetime | None = None  # paid account cancelled
    payment_failed_at: datetime | None = None  # first failure of the open failure
    payment_recovered_at: datetime | None = None  # latest recovery
    last_activity_at: datetime | None = None  # free plan's inactivity clock starts here
    suspended_at: datetime | None = None
    suspended_by: str | None = None  # BY_OPERATOR or a rule name
    closed_at: datetime | None = None
    closed_by: str | None = None  # RULE_CANCELLED or RULE_PAYMENT
    deleted_at: datetime | None = None  # when deletion was decided (desired state "deleted")
    deleted_by: str | None = None  # the rule that made deletion due

    @property
    def paid(self) -> bool:
        return PLANS[self.plan].paid

    @property
    def payment_failure_open(self) -> bool:
        """A payment failed and has not been recovered since."""
        if self.payment_failed_at is None:
            return False
        return (
            self.payment_recovered_at is None or self.payment_recovered_at < self.payment_failed_at
        )

    @property
    def trial_running(self) -> bool:
        """On the trial plan and never converted: the trial clock applies."""
        return self.plan == "trial" and self.converted_at is None


def new_tenant(slug: str, plan: str, at: datetime, trial_days: int | None = None) -> Facts:
    """Facts of a tenant created at `at`. A trial gets `trial_days` (default 14); others none."""
    if plan not in PLANS:
        raise UsageError(f"unknown plan {plan!r}: use one of {', '.join(PLANS)}")
    if trial_days is not None and plan != "trial":
        raise UsageError(f"trial days apply to the trial plan only, not {plan!r}")
    days = DEFAULT_TRIAL_DAYS if trial_days is None else trial_days
    if plan == "trial" and not 1 <= days <= 365:
        raise UsageError(f"trial days {days} is out of range: use 1-365")
    return Facts(
        slug=slug,
        plan=plan,
        state=ACTIVE,
        created_at=at,
        last_event_at=at,
        trial_ends_at=at + timedelta(days=days) if plan == "trial" else None,
        last_activity_at=at,
    )


def _check_time(facts: Facts, at: datetime, what: str) -> None:
    if at < facts.last_event_at:
        raise UsageError(
            f"{what} for {facts.slug!r} at {at.isoformat()} is before its last recorded change"
            f" ({facts.last_event_at.isoformat()}): record events in time order"
        )


def _refuse(facts: Facts, what: str, why: str) -> IllegalTransition:
    return IllegalTransition(
        f"cannot {what} tenant {facts.slug!r} ({facts.state}): {why}", tenant=facts.slug
    )


def _check_alive(facts: Facts, what: str) -> None:
    if facts.state == DELETED:
        raise _refuse(facts, what, "its data was deleted; the row is a tombstone")


def suspend(facts: Facts, at: datetime) -> Facts:
    """An operator suspends an active tenant (abuse, a support hold); only `resume` lifts it."""
    _check_alive(facts, "suspend")
    _check_time(facts, at, "suspend")
    if facts.state != ACTIVE:
        raise _refuse(facts, "suspend", "only an active tenant can be suspended")
    return replace(
        facts, state=SUSPENDED, suspended_at=at, suspended_by=BY_OPERATOR, last_event_at=at
    )


def resume(facts: Facts, at: datetime, retention_suspends: str | None = None) -> Facts:
    """Lift an operator's suspension. `retention_suspends` names a rule that says suspended."""
    _check_alive(facts, "resume")
    _check_time(facts, at, "resume")
    if facts.state != SUSPENDED:
        raise _refuse(facts, "resume", "only a suspended tenant can be resumed")
    if facts.suspended_by != BY_OPERATOR:
        raise _refuse(
            facts,
            "resume",
            f"suspended by the {facts.suspended_by} rule; the billing event that stops that"
            " clock (converted, payment_recovered) restores it",
        )
    if retention_suspends:
        raise _refuse(facts, "resume", f"the {retention_suspends} rule keeps it suspended")
    return replace(facts, state=ACTIVE, suspended_at=None, suspended_by=None, last_event_at=at)


def _restore(facts: Facts, rule: str) -> Facts:
    """Lift a suspension made by `rule` (an operator's stays)."""
    if facts.state == SUSPENDED and facts.suspended_by == rule:
        return replace(facts, state=ACTIVE, suspended_at=None, suspended_by=None)
    return facts


def _paid_plan(name: str | None, default: str | None) -> str:
    chosen = (name or default or "").strip().lower()
    if chosen not in PLANS:
        raise UsageError(f"unknown plan {name!r}: use one of {', '.join(PLANS)}")
    return chosen


def billing_event(
    facts: Facts, kind: str, at: datetime, plan: str | None = None
) -> tuple[Facts, str]:
    """Apply one billing event; returns the new facts and a one-line note of what it did.

    `payment_recovered` is refused once closure is due (day 90 after the failure), whether or not
    the retention sweep has run: the published rule restores service only before closure.
    """
    if kind not in BILLING_EVENTS:
        raise UsageError(f"unknown billing event {kind!r}: use one of {', '.join(BILLING_EVENTS)}")
    _check_alive(facts, f"record {kind} for")
    _check_time(facts, at, kind)
    if plan is not None and kind not in (CONVERTED, PLAN_CHANGED):
        raise UsageError(f"a plan applies to converted and plan_changed only, not {kind}")
    facts = replace(facts, last_event_at=at)
    if kind == ACTIVITY:
        last = facts.last_activity_at
        return replace(facts, last_activity_at=at if last is None or at > last else last), (
            "activity recorded"
        )
    if facts.state == CLOSED:
        raise _refuse(facts, f"record {kind} for", f"the account was closed ({facts.closed_by})")
    if kind == CONVERTED:
        if facts.paid:
            raise _refuse(facts, "convert", "already on a paid plan; use plan_changed")
        target = _paid_plan(plan, DEFAULT_CONVERSION_PLAN)
        if not PLANS[target].paid:
            raise UsageError(f"converted needs a paid plan, not {target!r}")
        new = _restore(replace(facts, plan=target, converted_at=at), RULE_TRIAL)
        return new, f"converted to {target}"
    if kind == PLAN_CHANGED:
        if plan is None:
            raise UsageError("plan_changed needs the new plan")
        target = _paid_plan(plan, None)
        if target == facts.plan:
            raise _refuse(facts, "change the plan of", f"already on {target}")
        if facts.plan == "trial" or target == "trial":
            raise _refuse(
                facts, "change the plan of", "a trial ends by converted, not plan_changed"
            )
        if not PLANS[facts.plan].paid and PLANS[target].paid:
            raise _refuse(
                facts, "change the plan of", "free to paid is a conversion; use converted"
            )
        if target == "free" and facts.payment_failure_open:
            raise _refuse(
                facts, "move to free", "a failed payment is open; record payment_recovered first"
            )
        new = replace(facts, plan=target)
        if target == "free":
            new = replace(new, last_activity_at=at)  # the inactivity clock starts at the change
        return new, f"plan changed from {facts.plan} to {target}"
    if not facts.paid:
        raise _refuse(facts, f"record {kind} for", f"the {facts.plan} plan is not paid")
    if kind == CANCELLED:
        new = replace(
            facts,
            state=CLOSED,
            cancelled_at=at,
            closed_at=at,
            closed_by=RULE_CANCELLED,
            suspended_at=None,
            suspended_by=None,
        )
        return new, "account cancelled and closed; data deleted 90 days after cancellation"
    if kind == PAYMENT_FAILED:
        if facts.payment_failure_open:
            assert facts.payment_failed_at is not None
            since = facts.payment_failed_at.isoformat()
            return facts, f"failure recorded; the clock keeps running from {since}"
        return replace(facts, payment_failed_at=at), (
            f"payment failed; suspended at {_iso(at + timedelta(days=15))} unless the payment"
            " is recovered before"
        )
    # PAYMENT_RECOVERED
    if not facts.payment_failure_open:
        raise _refuse(facts, "recover payment for", "no failed payment is open")
    assert facts.payment_failed_at is not None
    closure = facts.payment_failed_at + timedelta(days=90)
    if at >= closure:
        raise _refuse(
            facts,
            "recover payment for",
            f"closure was due at {closure.isoformat()}; a recovery after closure does not reopen",
        )
    new = _restore(replace(facts, payment_recovered_at=at), RULE_PAYMENT)
    return new, "payment recovered; service restored and the clock stopped"


# The operator's stack commands (`provisioner tenants preview|up|refresh|destroy|outputs|cancel`)
STACK_COMMANDS: tuple[str, ...] = ("preview", "up", "refresh", "destroy", "outputs", "cancel")


def check_stack_command(facts: Facts, verb: str, observed_state: str | None) -> None:
    """Refuse an operator's stack command that the lifecycle forbids (IllegalTransition, exit 2).

    `up` builds the running shape, so it is for active tenants only: on a suspended tenant it
    would resume it behind the back of whoever suspended it (preview shows what `up` would do,
    so it follows the same rule). `destroy` deletes the data: only once the retention rules
    decided the deletion. Reading (`outputs`, `refresh`) and unlocking (`cancel`) are fine
    until the stack itself is gone.
    """
    if verb not in STACK_COMMANDS:
        raise UsageError(f"unknown stack command {verb!r}: use one of {', '.join(STACK_COMMANDS)}")
    if verb in ("preview", "up"):
        if facts.state == ACTIVE:
            return
        if facts.state == SUSPENDED:
            if facts.suspended_by == BY_OPERATOR:
                lift = f"'provisioner tenants resume {facts.slug}'"
            else:
                lift = "the billing event that stops that clock (converted, payment_recovered)"
            raise _refuse(
                facts,
                verb,
                f"suspended by {_suspender(facts)}; {verb} would run its service again: lift the"
                f" suspension first with {lift}",
            )
        if facts.state == CLOSED:
            raise _refuse(facts, verb, f"the account was closed ({facts.closed_by})")
        raise _refuse(facts, verb, "its data was deleted; the row is a tombstone")
    if verb == "destroy":
        if facts.state == DELETED and observed_state == DELETED:
            raise _refuse(facts, "destroy", "its stack was already destroyed (see its evidence)")
        if facts.state == DELETED:
            return
        # A closed account is already on the deletion clock: telling the operator to cancel it
        # again would send them in a circle; point at the date instead.
        instead = (
            f"its deletion date is in 'provisioner tenants show {facts.slug}'"
            if facts.state == CLOSED
            else "cancel the account or suspend the tenant instead"
        )
        raise _refuse(
            facts,
            "destroy",
            "a registered tenant's data is deleted only when the retention rules decide it"
            f" ('provisioner retention apply'); {instead}",
        )
    if facts.state == DELETED and observed_state == DELETED:
        raise _refuse(facts, verb, "its stack was destroyed; the row is a tombstone")


def _suspender(facts: Facts) -> str:
    return "an operator" if facts.suspended_by == BY_OPERATOR else f"the {facts.suspended_by} rule"


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")
