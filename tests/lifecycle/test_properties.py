"""Property tests over random event histories (hypothesis).

A history is a tenant created on some plan, then operations at increasing instants: billing
events, operator holds, and retention sweeps. An independent oracle replays the accepted
operations and knows, from the published rules alone, the earliest legal deletion date. It checks:

- no data deletion is ever applied before its legal date;
- every history that should end in deletion ends with exactly one deletion;
- billing records are never purged before 7 calendar years;
- settling (what `retention apply` does) twice at one instant changes nothing the second time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from provisioner import lifecycle, retention
from provisioner.errors import UsageError
from provisioner.lifecycle import Facts

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
# "sweep" runs `apply` at the step's instant; "sweep_next" at exactly the next due instant (the
# most adversarial moment for an off-by-a-little rule).
OPS = (*lifecycle.BILLING_EVENTS, "suspend", "resume", "sweep", "sweep_next", "sweep_next")
PLANS = ("trial", "free", "standard", "enterprise")


@dataclass
class Oracle:
    """What the published rules say, computed from the accepted operations only."""

    plan: str
    trial_end: datetime | None
    converted: bool = False
    cancelled_at: datetime | None = None
    failure_since: datetime | None = None  # the open failure's first instant
    last_activity: datetime | None = None
    closed_at: datetime | None = None  # when a payment closure was recorded
    deletions: list[tuple[datetime, str]] = field(default_factory=list)

    def accept(self, op: str, at: datetime, plan: str | None) -> None:
        if op == "converted":
            self.converted, self.plan = True, plan or "standard"
        elif op == "plan_changed":
            assert plan is not None
            self.plan = plan
            if plan == "free":
                self.last_activity = at
        elif op == "cancelled":
            self.cancelled_at = at
        elif op == "payment_failed" and self.failure_since is None:
            self.failure_since = at
        elif op == "payment_recovered":
            self.failure_since = None
        elif op == "activity":
            self.last_activity = max(self.last_activity or at, at)

    def earliest_legal_deletion(self) -> datetime | None:
        """The earliest instant the published rules allow deleting this tenant's data."""
        if self.plan == "trial" and not self.converted:
            assert self.trial_end is not None
            return self.trial_end + 12 * DAY
        if self.plan == "free":
            assert self.last_activity is not None
            return self.last_activity + 60 * DAY
        if self.cancelled_at is not None:
            return self.cancelled_at + 90 * DAY
        if self.failure_since is not None:  # closed day 90 (or later), deleted a week after
            closure = max(self.failure_since + 90 * DAY, self.closed_at or self.failure_since)
            return closure + 7 * DAY
        return None


steps = st.lists(
    st.tuples(
        st.sampled_from(OPS),
        st.integers(min_value=0, max_value=120 * 24 * 3600),  # seconds since the last step
        st.sampled_from((None, "standard", "enterprise", "free")),
    ),
    max_size=14,
)


def run_history(
    plan: str, trial_days: int, history: list[tuple[str, int, str | None]]
) -> tuple[Facts, Oracle, datetime]:
    facts = lifecycle.new_tenant("acme", plan, T0, trial_days if plan == "trial" else None)
    oracle = Oracle(plan=plan, trial_end=facts.trial_ends_at, last_activity=T0)
    now = T0
    for op, seconds, op_plan in history:
        now += timedelta(seconds=seconds)
        if op == "sweep_next":
            now = next_due(facts, now)
            op = "sweep"
        if op == "sweep":
            facts, applied = retention.settle(facts, now)
            check_applied(applied, oracle, now)
            assert retention.settle(facts, now)[1] == []  # apply twice: nothing the second time
            continue
        try:
            settled, applied = retention.settle_before(facts, now, op)
            if op == "suspend":
                new = lifecycle.suspend(settled, now)
            elif op == "resume":
                new = lifecycle.resume(settled, now, retention.suspension_rule(settled, now))
            else:
                new = lifecycle.billing_event(settled, op, now, op_plan)[0]
        except UsageError:
            continue  # refused: nothing changed
        check_applied(applied, oracle, now)
        oracle.accept(op, now, op_plan if op in ("converted", "plan_changed") else None)
        facts = new
    return facts, oracle, now


def next_due(facts: Facts, now: datetime) -> datetime:
    """The earliest instant at or after `now` when something becomes due (else `now`)."""
    coming = [a.due for a in retention.scheduled(facts, now) if a.due >= now]
    return min(coming, default=now)


def check_applied(applied: list[retention.Action], oracle: Oracle, now: datetime) -> None:
    for action in applied:
        assert action.due <= now
        if action.action == "close":
            oracle.closed_at = now
        if action.action == "delete":
            legal = oracle.earliest_legal_deletion()
            assert legal is not None, f"deleted a tenant no rule deletes: {oracle}"
            assert now >= legal, f"deleted at {now}, legal from {legal}"
            oracle.deletions.append((now, action.rule))


@settings(max_examples=400, deadline=None)
@given(
    plan=st.sampled_from(PLANS),
    trial_days=st.integers(min_value=1, max_value=40),
    history=steps,
)
def test_random_histories_obey_the_published_rules(
    plan: str, trial_days: int, history: list[tuple[str, int, str | None]]
) -> None:
    facts, oracle, now = run_history(plan, trial_days, history)
    should_delete = oracle.earliest_legal_deletion() is not None
    # Let the clock run out, sweeping at each due instant exactly, then once much later.
    for _ in range(10):
        now = next_due(facts, now)
        facts, applied = retention.settle(facts, now)
        check_applied(applied, oracle, now)
    facts, applied = retention.settle(facts, now + 3650 * DAY)
    check_applied(applied, oracle, now + 3650 * DAY)
    assert len(oracle.deletions) == (1 if should_delete else 0), (oracle, facts)
    assert (facts.state == "deleted") == should_delete
    if should_delete:
        assert retention.scheduled(facts, now + 1000 * DAY) == []  # a tombstone has no clock


@settings(max_examples=400, deadline=None)
@given(
    plan=st.sampled_from(PLANS),
    history=steps,
    offset=st.integers(min_value=0, max_value=400 * 24 * 3600),
)
def test_settling_is_idempotent_and_plans_only_what_is_due(
    plan: str, history: list[tuple[str, int, str | None]], offset: int
) -> None:
    facts, _, now = run_history(plan, 14, history)
    at = now + timedelta(seconds=offset)
    due = retention.due(facts, at)
    assert all(a.due <= at for a in due)
    once, applied = retention.settle(facts, at)
    assert applied == due  # `retention plan` lists exactly what `retention apply` does
    assert retention.settle(once, at) == (once, [])
    assert retention.due(once, at) == []
    # The database's coarse filter never drops a tenant with something due: checked at each
    # scheduled action's own due instant (the boundary), and the filter only widens after it.
    for action in retention.scheduled(facts, at):
        assert retention.may_be_due(facts, retention.cutoffs(max(action.due, at)))


@settings(max_examples=500, deadline=None)
@given(
    occurred=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2090, 12, 31), timezones=st.just(UTC)
    )
)
def test_billing_records_never_purged_before_7_calendar_years(occurred: datetime) -> None:
    due = retention.billing_purge_due(occurred)
    assert due.year == occurred.year + 7
    assert (due.month, due.day) >= (occurred.month, occurred.day)
    assert due.time() == occurred.time()
    assert due - occurred >= timedelta(days=7 * 365 + 1)  # every 7-year span holds a 29 February
