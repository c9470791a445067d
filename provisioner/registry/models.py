"""The registry's tables, as SQLAlchemy 2 declarative models (the migrations create them).

Three concerns, kept apart:

- `tenants`: one row per tenant, forever (a deleted tenant's row is its tombstone). Desired state
  (what the reconciler should make true) apart from observed state (what it last saw), the
  lifecycle dates the retention clock runs on, and room for the worker: lease, attempts, errors.
- `tenant_events`: the append-only audit trail (who, what, when, why) of every change. Database
  triggers refuse UPDATE and DELETE on it.
- `billing_records`: billing events, kept 7 years by their own clock and never deleted with the
  tenant; keyed by slug, not by a foreign key, so the two can never cascade into each other.

Callers never see these classes: `provisioner.registry.records` has the frozen dataclasses the
facade returns.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """An instant, aware UTC in Python; `timestamptz` on PostgreSQL, naive UTC text on SQLite."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the registry stores aware instants only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # raw SQLite text (e.g. from an aggregate like min())
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def result_processor(self, dialect: sa.Dialect, coltype: Any) -> Any:
        """One plain function per value, no generic layers: `retention plan` reads a million
        instants for 100,000 tenants, and the generic path cost over a second of it."""
        fromiso = datetime.fromisoformat

        if dialect.name == "sqlite":  # pysqlite hands back the stored text

            def from_sqlite(value: Any) -> datetime | None:
                if value is None:
                    return None
                if isinstance(value, str):
                    try:  # naive UTC text; a suffix parses 6x faster than .replace(tzinfo=)
                        return fromiso(value + "+00:00")
                    except ValueError:
                        pass
                return self.process_result_value(value, dialect)

            return from_sqlite

        def aware(value: Any) -> datetime | None:  # sessions run in UTC (db.create_engine)
            if value is None or (isinstance(value, datetime) and value.tzinfo is UTC):
                return value
            return self.process_result_value(value, dialect)

        return aware


_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")  # SQLite: INTEGER PRIMARY KEY = rowid
# JSON on SQLite, JSONB on PostgreSQL (indexable, compact).
JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = sa.MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class TenantRow(Base):
    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(64), unique=True)
    location: Mapped[str] = mapped_column(sa.String(16), index=True)  # regions.yaml code
    region: Mapped[str] = mapped_column(sa.String(32))  # AWS region at creation
    plan: Mapped[str] = mapped_column(sa.String(32))
    # What the reconciler should make true (lifecycle.STATES) and what it last observed.
    desired_state: Mapped[str] = mapped_column(sa.String(16), index=True)
    observed_state: Mapped[str | None] = mapped_column(sa.String(32))
    observed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Bumped on every desired-state change; the reconciler reports the generation it reached.
    generation: Mapped[int] = mapped_column(sa.Integer, default=1)
    observed_generation: Mapped[int | None] = mapped_column(sa.Integer)
    program_version: Mapped[str | None] = mapped_column(sa.String(64))
    outputs: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # Lifecycle dates (the retention clock's inputs) and who suspended/closed/deleted.
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_event_at: Mapped[datetime] = mapped_column(UTCDateTime)
    trial_ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    converted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    payment_failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    payment_recovered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    suspended_by: Mapped[str | None] = mapped_column(sa.String(32))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(sa.String(32))
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_by: Mapped[str | None] = mapped_column(sa.String(32))
    # Filled once the reconciler has destroyed everything: stack, backups, key deletion date.
    deletion_evidence: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # Worker leases (issue 6): who holds the tenant, until when, and how the attempts went.
    lease_owner: Mapped[str | None] = mapped_column(sa.String(128))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    # Added by migration 0002 (issue 6, provisioner/registry/work_models.py): the generation
    # `attempts` counts against, and the plan the stack was last built with.
    attempt_generation: Mapped[int | None] = mapped_column(sa.Integer)
    observed_plan: Mapped[str | None] = mapped_column(sa.String(32))
    # Optimistic concurrency: every write checks and bumps it.
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Added by migration 0005 (issue 15, provisioner/rollout/): the release the stack was last
    # built from and the one a rollout wants it on (workers apply the target), and the tenant's
    # say in rollouts: canary, maintenance window, pin, legal hold.
    release_id: Mapped[int | None] = mapped_column(sa.Integer)
    target_release_id: Mapped[int | None] = mapped_column(sa.Integer)
    canary: Mapped[bool | None] = mapped_column(sa.Boolean)
    maintenance_window: Mapped[str | None] = mapped_column(sa.String(64))  # None: location's
    pinned_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pin_reason: Mapped[str | None] = mapped_column(sa.Text)
    legal_hold: Mapped[str | None] = mapped_column(sa.Text)  # the reason; None: no hold
    # Added by migration 0006 (warm pools): the instance the tenant was bound to; NULL for a
    # tenant created directly, whose instance id is its slug.
    instance_id: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    # Added by migration 0009 (provisioner/registry/legacy_backup.py): the stack still holds the
    # backup copy from before the backup account, and the time it may be retired (set by the
    # first successful update that copies to the backup account: + the plan's retention).
    legacy_backup: Mapped[bool | None] = mapped_column(sa.Boolean)
    legacy_backup_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TenantEventRow(Base):
    __tablename__ = "tenant_events"
    __table_args__ = (sa.Index("ix_tenant_events_tenant_id_id", "tenant_id", "id"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(sa.ForeignKey("tenants.id"))
    slug: Mapped[str] = mapped_column(sa.String(64))
    kind: Mapped[str] = mapped_column(sa.String(64))  # created, suspended, retention.delete, ...
    at: Mapped[datetime] = mapped_column(UTCDateTime)  # when it took effect (--at)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)  # wall clock of the write
    actor: Mapped[str] = mapped_column(sa.String(128))  # who: cli:alice, retention, worker:host-1
    reason: Mapped[str] = mapped_column(sa.Text, default="")  # why
    data: Mapped[dict[str, Any] | None] = mapped_column(JSONType)  # what changed


class BillingRecordRow(Base):
    __tablename__ = "billing_records"
    __table_args__ = (sa.Index("ix_billing_records_slug_occurred_at", "slug", "occurred_at"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(64))  # no foreign key: kept apart on purpose
    kind: Mapped[str] = mapped_column(sa.String(32))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    plan: Mapped[str | None] = mapped_column(sa.String(32))
    external_id: Mapped[str | None] = mapped_column(sa.String(128), unique=True)  # import dedup
    source: Mapped[str] = mapped_column(sa.String(32))  # cli, import, api
    data: Mapped[dict[str, Any] | None] = mapped_column(JSONType)


class ReleaseRow(Base):
    """An immutable program version (issue 15): database triggers refuse UPDATE and DELETE."""

    __tablename__ = "releases"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    commit: Mapped[str] = mapped_column(sa.String(64))
    program_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    ref: Mapped[str] = mapped_column(sa.String(255))
    notes: Mapped[str] = mapped_column(sa.Text, default="")
    actor: Mapped[str] = mapped_column(sa.String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RolloutRow(Base):
    __tablename__ = "rollouts"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    release_id: Mapped[int] = mapped_column(sa.ForeignKey("releases.id"))
    state: Mapped[str] = mapped_column(sa.String(16), index=True)  # controller.ACTIVE_STATES..
    strategy: Mapped[dict[str, Any]] = mapped_column(JSONType)
    waves: Mapped[list[Any]] = mapped_column(JSONType)  # [{"name", "tenants"}]
    wave: Mapped[int] = mapped_column(sa.Integer, default=0)
    wave_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    wave_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    wave_checked: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    accepted_failures: Mapped[int] = mapped_column(sa.Integer, default=0)
    halt_reason: Mapped[str | None] = mapped_column(sa.Text)
    failing: Mapped[list[Any] | None] = mapped_column(JSONType)
    dangerous_reason: Mapped[str | None] = mapped_column(sa.Text)  # --approve-dangerous's why
    actor: Mapped[str] = mapped_column(sa.String(128))
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RolloutTenantRow(Base):
    __tablename__ = "rollout_tenants"
    __table_args__ = (sa.Index("ix_rollout_tenants_rollout_id_wave", "rollout_id", "wave"),)

    rollout_id: Mapped[int] = mapped_column(sa.ForeignKey("rollouts.id"), primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    wave: Mapped[int] = mapped_column(sa.Integer)
    status: Mapped[str] = mapped_column(sa.String(16))  # controller: pending, targeted, ...
    from_release_id: Mapped[int | None] = mapped_column(sa.Integer)
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RolloutEventRow(Base):
    __tablename__ = "rollout_events"
    __table_args__ = (sa.Index("ix_rollout_events_rollout_id_id", "rollout_id", "id"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    rollout_id: Mapped[int] = mapped_column(sa.ForeignKey("rollouts.id"))
    kind: Mapped[str] = mapped_column(sa.String(64))  # rollout.started, rollout.halted, ...
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(sa.String(128))
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    data: Mapped[dict[str, Any] | None] = mapped_column(JSONType)


# Core handles for fast, ORM-free statements (the facade returns dataclasses, not rows).
tenants = cast(sa.Table, TenantRow.__table__)
tenant_events = cast(sa.Table, TenantEventRow.__table__)
billing_records = cast(sa.Table, BillingRecordRow.__table__)

# Tenants the workers still have to reconcile (observed state or generation differs from the
# desired): a partial index (migration 0003) so a claim reads only these, not every settled
# tenant. Claims repeat this predicate word for word (leases), as SQLite uses a partial index only
# when the query's WHERE has the index's term.
UNSETTLED = (
    "(observed_state IS NULL OR observed_state <> desired_state"
    " OR observed_generation IS NULL OR observed_generation <> generation)"
)
sa.Index(
    "ix_tenants_unsettled",
    tenants.c.id,
    sqlite_where=sa.text(UNSETTLED),
    postgresql_where=sa.text(UNSETTLED),
)


# --- incidents (issue 18; migration 0007) ---------------------------------------------------------
# `incidents`: one row per incident; only `status`, `closed_at` and `root_cause` change after it
# is opened. `incident_entries`: its append-only, hash-chained timeline (database triggers refuse
# UPDATE and DELETE; provisioner/incidents/chain.py). `incident_holds`: the tenants whose
# scheduled deletion an open incident pauses (released when the incident closes).
# `notice_contacts`: the one contact kept for a deleted tenant so a breach notice can still reach
# it, until `keep_until` (README "Incidents").


class IncidentRow(Base):
    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    title: Mapped[str] = mapped_column(sa.Text)
    kind: Mapped[str] = mapped_column(sa.String(16))  # breach, outage, other
    status: Mapped[str] = mapped_column(sa.String(16), index=True)  # open, closed
    discovered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    window_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime] = mapped_column(UTCDateTime)
    regions: Mapped[list[str]] = mapped_column(JSONType)
    listed: Mapped[list[str]] = mapped_column(JSONType)  # tenants named on the incident
    hold: Mapped[bool] = mapped_column(sa.Boolean)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    opened_by: Mapped[str] = mapped_column(sa.String(128))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    root_cause: Mapped[str | None] = mapped_column(sa.Text)


class IncidentEntryRow(Base):
    __tablename__ = "incident_entries"
    __table_args__ = (sa.UniqueConstraint("incident_id", "seq"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    incident_id: Mapped[int] = mapped_column(sa.ForeignKey("incidents.id"))
    seq: Mapped[int] = mapped_column(sa.Integer)
    kind: Mapped[str] = mapped_column(sa.String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(sa.String(128))
    text: Mapped[str] = mapped_column(sa.Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64))


class IncidentHoldRow(Base):
    __tablename__ = "incident_holds"
    __table_args__ = (sa.UniqueConstraint("incident_id", "slug"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    incident_id: Mapped[int] = mapped_column(sa.ForeignKey("incidents.id"))
    slug: Mapped[str] = mapped_column(sa.String(64), index=True)
    held_at: Mapped[datetime] = mapped_column(UTCDateTime)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class NoticeContactRow(Base):
    __tablename__ = "notice_contacts"

    slug: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254))
    deleted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    keep_until: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


incidents = cast(sa.Table, IncidentRow.__table__)
incident_entries = cast(sa.Table, IncidentEntryRow.__table__)
incident_holds = cast(sa.Table, IncidentHoldRow.__table__)
notice_contacts = cast(sa.Table, NoticeContactRow.__table__)

releases = cast(sa.Table, ReleaseRow.__table__)
rollouts = cast(sa.Table, RolloutRow.__table__)
rollout_tenants = cast(sa.Table, RolloutTenantRow.__table__)
rollout_events = cast(sa.Table, RolloutEventRow.__table__)


# Warm pools (migration 0006, provisioner.registry.pools).
class PoolInstanceRow(Base):
    __tablename__ = "pool_instances"
    __table_args__ = (
        sa.Index("ix_pool_instances_location_plan_state", "location", "plan", "state", "ready_at"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    instance_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    location: Mapped[str] = mapped_column(sa.String(16))
    region: Mapped[str] = mapped_column(sa.String(32))
    plan: Mapped[str] = mapped_column(sa.String(32))
    state: Mapped[str] = mapped_column(sa.String(16))  # pools.POOL_STATES
    program_version: Mapped[str | None] = mapped_column(sa.String(64))
    tenant_slug: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ready_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    bound_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(sa.String(128))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # A failed job backs off until then (None: due now); migration 0008_pool_retry.
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PoolTargetRow(Base):
    __tablename__ = "pool_targets"

    location: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    plan: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    target: Mapped[int] = mapped_column(sa.Integer)
    max_idle_hours: Mapped[float] = mapped_column(sa.Float)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


pool_instances = cast(sa.Table, PoolInstanceRow.__table__)
pool_targets = cast(sa.Table, PoolTargetRow.__table__)
