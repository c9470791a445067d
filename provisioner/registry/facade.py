"""The Registry facade: every read and write of the registry, in short transactions.

Split by concern: `core` (transactions, locks, events), tenants here, `billing` (billing events
and imports), `sweep` (the retention plan and its application).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from provisioner import lifecycle, retention
from provisioner.errors import IllegalTransition, TenantExists, UsageError
from provisioner.registry.billing import BillingOps
from provisioner.registry.core import (
    _aware,
    insert_skipping_conflicts,
    not_found,
    to_event,
    to_tenant,
)
from provisioner.registry.models import tenant_events, tenants
from provisioner.registry.records import FACT_FIELDS, Tenant, TenantEvent
from provisioner.registry.sweep import SweepOps

if TYPE_CHECKING:
    from provisioner.spec import TenantSpec

_TENANT_COLUMNS = tuple(tenants.c.keys())


class Registry(BillingOps, SweepOps):
    """The tenant registry. Open with `Registry.open(url)`; use as a context manager or close()."""

    # --- tenants --------------------------------------------------------------------------------

    def create_tenant(
        self,
        spec: TenantSpec,
        *,
        actor: str,
        at: datetime | None = None,
        trial_days: int | None = None,
        reason: str = "",
    ) -> Tenant:
        """Register a tenant from a validated TenantSpec; desired state `active`."""
        when = _aware(at) if at else self._clock()
        facts = lifecycle.new_tenant(spec.slug, spec.plan.name, when, trial_days)
        values: dict[str, Any] = {name: getattr(facts, name) for name in FACT_FIELDS}
        values.update(
            location=spec.location.code,
            region=spec.region,
            desired_state=facts.state,
            generation=1,
            attempts=0,
            version=1,
            updated_at=self._clock(),
        )
        with self.write() as conn:
            # One statement inserts the row and hands it back (the new row is ours until
            # commit); a taken slug inserts nothing. PostgreSQL makes a concurrent insert of
            # the same slug wait for the first to commit, then skip.
            row = conn.execute(
                insert_skipping_conflicts(conn.dialect.name, tenants, _TENANT_COLUMNS, "slug"),
                values,
            ).first()
            if row is None:
                taken = conn.execute(
                    sa.select(tenants.c.desired_state).where(tenants.c.slug == spec.slug)
                ).scalar_one_or_none()
                raise TenantExists(
                    f"tenant {spec.slug!r} already exists ({taken}): slugs are never reused",
                    tenant=spec.slug,
                )
            self._event(
                conn,
                row,
                "created",
                when,
                actor,
                reason,
                {
                    "location": spec.location.code,
                    "region": spec.region,
                    "plan": spec.plan.name,
                    "trial_ends_at": retention.iso(facts.trial_ends_at)
                    if facts.trial_ends_at
                    else None,
                },
            )
            return to_tenant(row)

    def find_tenant(self, slug: str) -> Tenant | None:
        with self.read() as conn:
            row = conn.execute(sa.select(tenants).where(tenants.c.slug == slug)).one_or_none()
        return to_tenant(row) if row is not None else None

    def get_tenant(self, slug: str) -> Tenant:
        """The tenant, or TenantNotFound (exit 2)."""
        found = self.find_tenant(slug)
        if found is None:
            raise not_found(slug)
        return found

    def list_tenants(
        self,
        state: str | None = None,
        location: str | None = None,
        *,
        plan: str | None = None,
        created_since: datetime | None = None,
        after: str | None = None,
        limit: int | None = None,
    ) -> list[Tenant]:
        """Tenants sorted by slug, optionally only those in desired `state`, at `location`, on
        `plan`, created at or after `created_since`; `after` a slug and at most `limit` of them
        (a keyset page: stable while tenants are added, unlike an offset)."""
        query = sa.select(tenants).order_by(tenants.c.slug)
        if state is not None:
            if state not in lifecycle.STATES:
                raise UsageError(
                    f"unknown state {state!r}: use one of {', '.join(lifecycle.STATES)}"
                )
            query = query.where(tenants.c.desired_state == state)
        if location is not None:
            query = query.where(tenants.c.location == location)
        if plan is not None:
            query = query.where(tenants.c.plan == plan)
        if created_since is not None:
            query = query.where(tenants.c.created_at >= _aware(created_since))
        if after is not None:
            query = query.where(tenants.c.slug > after)
        if limit is not None:
            query = query.limit(limit)
        with self.read() as conn:
            return [to_tenant(r) for r in conn.execute(query)]

    def state_counts(self) -> dict[tuple[str, str | None], int]:
        """How many tenants are in each (desired state, observed state) pair (observed None:
        never reconciled)."""
        query = sa.select(tenants.c.desired_state, tenants.c.observed_state, sa.func.count())
        query = query.group_by(tenants.c.desired_state, tenants.c.observed_state)
        with self.read() as conn:
            return {(desired, observed): count for desired, observed, count in conn.execute(query)}

    def events(self, slug: str) -> list[TenantEvent]:
        """The tenant's audit trail, oldest first."""
        with self.read() as conn:
            tenant_id = conn.execute(
                sa.select(tenants.c.id).where(tenants.c.slug == slug)
            ).scalar_one_or_none()
            if tenant_id is None:
                raise not_found(slug)
            rows = conn.execute(
                sa.select(tenant_events)
                .where(tenant_events.c.tenant_id == tenant_id)
                .order_by(tenant_events.c.id)
            )
            return [to_event(r) for r in rows]

    def record_event(
        self,
        slug: str,
        kind: str,
        *,
        actor: str,
        reason: str = "",
        data: dict[str, Any] | None = None,
        at: datetime | None = None,
    ) -> TenantEvent:
        """Append an event that changes no state (a restore drill, an audit finding, a note)."""
        if not kind or len(kind) > 64:
            raise UsageError("event kind must be 1-64 characters")
        with self.write() as conn:
            row = self._lock(conn, slug)
            return self._event(
                conn, row, kind, _aware(at) if at else self._clock(), actor, reason, data
            )

    def suspend(
        self, slug: str, *, actor: str, at: datetime | None = None, reason: str = ""
    ) -> Tenant:
        """An operator's suspension (lifted only by `resume`)."""
        return self._operator(slug, "suspend", actor, at, reason)

    def resume(
        self, slug: str, *, actor: str, at: datetime | None = None, reason: str = ""
    ) -> Tenant:
        """Lift an operator's suspension; refused while a retention rule says suspended."""
        return self._operator(slug, "resume", actor, at, reason)

    def set_desired_state(
        self, slug: str, state: str, *, actor: str, at: datetime | None = None, reason: str = ""
    ) -> Tenant:
        """Operators may only move active <-> suspended; closing and deleting belong to billing
        events and the retention clock."""
        if state == lifecycle.SUSPENDED:
            return self.suspend(slug, actor=actor, at=at, reason=reason)
        if state == lifecycle.ACTIVE:
            return self.resume(slug, actor=actor, at=at, reason=reason)
        raise IllegalTransition(
            f"cannot set tenant {slug!r} to {state!r}: closing and deletion follow billing events"
            " and the retention clock (`provisioner billing record`,"
            " `provisioner retention apply`)",
            tenant=slug,
        )

    def _operator(
        self, slug: str, verb: str, actor: str, at: datetime | None, reason: str
    ) -> Tenant:
        when = _aware(at) if at else self._clock()
        with self.write() as conn:
            row, facts = self._settle(conn, self._lock(conn, slug), when, verb)
            if verb == "suspend":
                new = lifecycle.suspend(facts, when)
            else:
                new = lifecycle.resume(facts, when, retention.suspension_rule(facts, when))
            tenant = self._save_facts(conn, row, new)
            self._event(
                conn,
                row,
                f"{verb}ed" if verb == "suspend" else "resumed",
                when,
                actor,
                reason,
                {"desired_state": new.state},
            )
            return tenant

    # --- what the reconciler reports ------------------------------------------------------------

    def set_observed_state(
        self,
        slug: str,
        observed_state: str,
        *,
        actor: str,
        at: datetime | None = None,
        generation: int | None = None,
        outputs: dict[str, Any] | None = None,
        program_version: str | None = None,
        error: str | None = None,
    ) -> Tenant:
        """Record what the reconciler saw: state, the generation it reached, outputs, version."""
        when = _aware(at) if at else self._clock()
        with self.write() as conn:
            row = self._lock(conn, slug)
            values: dict[str, Any] = {
                "observed_state": observed_state,
                "observed_at": when,
                "last_error": error,
                "version": row.version + 1,
                "updated_at": self._clock(),
            }
            if generation is not None:
                values["observed_generation"] = generation
            if outputs is not None:
                values["outputs"] = outputs
            if program_version is not None:
                values["program_version"] = program_version
            conn.execute(sa.update(tenants).where(tenants.c.id == row.id).values(**values))
            self._event(
                conn,
                row,
                "observed",
                when,
                actor,
                error or "",
                {
                    "observed_state": observed_state,
                    "generation": generation,
                    "program_version": program_version,
                },
            )
            return to_tenant(conn.execute(sa.select(tenants).where(tenants.c.id == row.id)).one())

    def record_deletion_evidence(
        self, slug: str, evidence: dict[str, Any], *, actor: str, at: datetime | None = None
    ) -> Tenant:
        """Attach the proof of deletion (stack destroyed, backups gone, key deletion date) to a
        tombstone. Refused for a tenant whose deletion was not decided."""
        when = _aware(at) if at else self._clock()
        with self.write() as conn:
            row = self._lock(conn, slug)
            if row.desired_state != lifecycle.DELETED:
                raise IllegalTransition(
                    f"cannot record deletion evidence for {slug!r} ({row.desired_state}):"
                    " its deletion was not decided",
                    tenant=slug,
                )
            conn.execute(
                sa.update(tenants)
                .where(tenants.c.id == row.id)
                .values(
                    deletion_evidence=evidence, version=row.version + 1, updated_at=self._clock()
                )
            )
            self._event(conn, row, "deletion-evidence", when, actor, "", evidence)
            return to_tenant(conn.execute(sa.select(tenants).where(tenants.c.id == row.id)).one())
