"""The retention sweep: what the clock makes due (`plan`) and recording it (`apply`).

`plan` reads a snapshot with Core queries (no ORM objects: 100,000 tenants in well under the
2-second target) and runs the pure rules on every live tenant. `apply` plans, then re-reads the
tenants concerned under a row lock in batches, settles each one again at `at` (so what another
sweep applied in between is not applied twice) and records the new desired states and one event
per action. Billing records past 7 years are deleted by id under the same discipline.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import datetime, timedelta
from operator import attrgetter
from typing import Any

import sqlalchemy as sa

from provisioner import retention
from provisioner.lifecycle import DELETED, Facts
from provisioner.registry.core import RegistryCore, _aware
from provisioner.registry.models import billing_records, tenants
from provisioner.registry.records import ApplyResult, facts_from
from provisioner.retention import Action

_BATCH = 500  # tenants locked and updated per transaction
_ACTION_ORDER = {name: i for i, name in enumerate(retention.ACTIONS)}
# What the rules read (retention.scheduled). The other Facts fields matter only when a change is
# applied, and `apply` re-reads whole rows under a lock; fetching a third fewer columns is a third
# less of the plan's largest cost. tests/registry checks this plan against the rules on full rows.
_PLAN_COLUMNS = [
    tenants.c[name]
    for name in ("slug", "plan", "desired_state", "created_at", "trial_ends_at", "converted_at",
                 "cancelled_at", "payment_failed_at", "payment_recovered_at", "last_activity_at",
                 "closed_at", "closed_by")
]  # fmt: skip


def _may_be_due(cut: retention.Cutoffs) -> sa.ColumnElement[bool]:
    """retention.may_be_due in SQL: the database skips tenants no rule can touch by then."""
    t = tenants.c
    return sa.and_(
        t.desired_state != DELETED,
        sa.or_(
            sa.and_(t.converted_at.is_(None), t.trial_ends_at <= cut.trial_ends),
            sa.and_(
                t.plan == "free",
                sa.func.coalesce(t.last_activity_at, t.created_at) <= cut.free_last_activity,
            ),
            t.cancelled_at <= cut.cancelled,
            t.closed_at <= cut.closed,
            t.payment_failed_at <= cut.payment_failed,
        ),
    )


def _plan_facts(row: Any) -> Facts:
    """Facts from a _PLAN_COLUMNS row (unpacked by position: fast); the fields the rules do not
    read keep their defaults, and `last_event_at` gets the creation instant as a placeholder."""
    (slug, plan, state, created, trial_end, converted, cancelled, failed, recovered, activity,
     closed, closed_by) = row  # fmt: skip
    return Facts(
        slug=slug,
        plan=plan,
        state=state,
        created_at=created,
        last_event_at=created,
        trial_ends_at=trial_end,
        converted_at=converted,
        cancelled_at=cancelled,
        payment_failed_at=failed,
        payment_recovered_at=recovered,
        last_activity_at=activity,
        closed_at=closed,
        closed_by=closed_by,
    )


def _mark_held(conn: sa.Connection, actions: list[Action]) -> list[Action]:
    """Mark the deletions an open incident pauses (`incident open --hold`): `apply` skips them."""
    from provisioner.registry.incidents import held_slugs

    held = held_slugs(conn) if actions else {}
    if not held:
        return actions
    return [
        replace(a, held_by=held[a.tenant])
        if a.action == retention.DELETE and a.tenant in held
        else a
        for a in actions
    ]


def _sort_key(action: Action) -> tuple[datetime, str, int]:
    return (action.due, action.tenant, _ACTION_ORDER[action.action])


class SweepOps(RegistryCore):
    def retention_plan(self, at: datetime, *, upcoming: timedelta | None = None) -> list[Action]:
        """Actions due at `at` (and, with `upcoming`, due up to `at + upcoming`), by due date."""
        at = _aware(at)
        until = at + upcoming if upcoming else at
        actions: list[Action] = []
        with self.read() as conn:
            query = sa.select(*_PLAN_COLUMNS).where(_may_be_due(retention.cutoffs(until)))
            rows = conn.execute(query).all()  # one fetchall: faster than row by row
            due = retention.due
            for row in rows:
                actions.extend(due(_plan_facts(row), at, until))
            actions.extend(self._purges(conn, until))
            actions = _mark_held(conn, actions)
        # Stable sort on C-level keys: a tenant's actions come out of the rules in order already.
        actions.sort(key=attrgetter("due", "tenant"))
        return actions

    def _purges(self, conn: sa.Connection, until: datetime) -> list[Action]:
        """One purge action per slug with billing records past 7 years at `until`."""
        # A day of slack past the calendar cutoff (29 February); the exact rule filters after.
        cutoff = retention.add_years(until, -retention.BILLING_KEEP_YEARS) + timedelta(days=1)
        rows = conn.execute(
            sa.select(billing_records.c.slug, billing_records.c.occurred_at).where(
                billing_records.c.occurred_at <= cutoff
            )
        )
        oldest: dict[str, datetime] = {}
        count: dict[str, int] = defaultdict(int)
        for slug, occurred in rows:
            if retention.billing_purge_due(occurred) <= until:
                count[slug] += 1
                if slug not in oldest or occurred < oldest[slug]:
                    oldest[slug] = occurred
        return [retention.purge_action(slug, oldest[slug], count[slug]) for slug in oldest]

    def retention_apply(self, at: datetime, *, actor: str = "retention") -> ApplyResult:
        """Record every action due at `at`. Idempotent; safe to run twice at once."""
        at = _aware(at)
        planned = self.retention_plan(at)
        slugs = sorted({a.tenant for a in planned if a.action != retention.PURGE_BILLING})
        held = {a.tenant for a in planned if a.held_by is not None}
        applied: list[Action] = []
        for start in range(0, len(slugs), _BATCH):
            with self.write() as conn:
                rows = conn.execute(
                    sa.select(tenants)
                    .where(tenants.c.slug.in_(slugs[start : start + _BATCH]))
                    .order_by(tenants.c.id)  # one lock order for every sweep: no deadlocks
                    .with_for_update()
                ).all()
                for row in rows:
                    facts, done = retention.settle(facts_from(row), at, held=row.slug in held)
                    if not done:
                        continue  # another sweep (or a billing event) got there first
                    self._save_facts(conn, row, facts)
                    for action in done:
                        self._event(
                            conn,
                            row,
                            f"retention.{action.action}",
                            at,
                            actor,
                            action.reason,
                            {
                                "rule": action.rule,
                                "due": retention.iso(action.due),
                                "desired_state": retention.target_state(action.action),
                            },
                        )
                    applied.extend(done)
        purged = 0
        for action in (a for a in planned if a.action == retention.PURGE_BILLING):
            count = self._purge(action.tenant, at, actor)
            if count:
                purged += count
                applied.append(action)
        applied.sort(key=_sort_key)
        return ApplyResult(at=at, applied=tuple(applied), purged_billing_records=purged)

    def _purge(self, slug: str, at: datetime, actor: str) -> int:
        """Delete the tenant's billing records past 7 years at `at`; returns how many."""
        with self.write() as conn:
            rows = conn.execute(
                sa.select(billing_records.c.id, billing_records.c.occurred_at)
                .where(billing_records.c.slug == slug)
                .with_for_update()
            ).all()
            ids = [rid for rid, occurred in rows if retention.billing_purge_due(occurred) <= at]
            if not ids:
                return 0
            deleted = conn.execute(
                sa.delete(billing_records).where(billing_records.c.id.in_(ids))
            ).rowcount
            tenant = conn.execute(sa.select(tenants).where(tenants.c.slug == slug)).one_or_none()
            if deleted and tenant is not None:  # the audit trail says what went, not what it was
                self._event(
                    conn,
                    tenant,
                    "retention.purge-billing",
                    at,
                    actor,
                    f"{deleted} billing record(s) older than 7 years purged",
                    {"count": deleted, "rule": "billing-7-years"},
                )
            return int(deleted)
