"""Tenants, the append-only event log, billing records.

Revision ID: 0001_registry
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from provisioner.registry.models import UTCDateTime

revision = "0001_registry"
down_revision = None
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")  # SQLite: INTEGER PRIMARY KEY = rowid
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _ts(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, UTCDateTime(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("slug", sa.String(64), nullable=False),
        sa.Column("location", sa.String(16), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("plan", sa.String(32), nullable=False),
        sa.Column("desired_state", sa.String(16), nullable=False),
        sa.Column("observed_state", sa.String(32)),
        _ts("observed_at"),
        sa.Column("generation", sa.Integer, nullable=False, server_default="1"),
        sa.Column("observed_generation", sa.Integer),
        sa.Column("program_version", sa.String(64)),
        sa.Column("outputs", _JSON),
        _ts("created_at", nullable=False),
        _ts("last_event_at", nullable=False),
        _ts("trial_ends_at"),
        _ts("converted_at"),
        _ts("cancelled_at"),
        _ts("payment_failed_at"),
        _ts("payment_recovered_at"),
        _ts("last_activity_at"),
        _ts("suspended_at"),
        sa.Column("suspended_by", sa.String(32)),
        _ts("closed_at"),
        sa.Column("closed_by", sa.String(32)),
        _ts("deleted_at"),
        sa.Column("deleted_by", sa.String(32)),
        sa.Column("deletion_evidence", _JSON),
        sa.Column("lease_owner", sa.String(128)),
        _ts("lease_expires_at"),
        _ts("heartbeat_at"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        _ts("next_attempt_at"),
        sa.Column("last_error", sa.Text),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        _ts("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tenants"),
        sa.UniqueConstraint("slug", name="uq_tenants_slug"),
        sa.CheckConstraint(
            "desired_state IN ('active', 'suspended', 'closed', 'deleted')",
            name="ck_tenants_desired_state",
        ),
    )
    op.create_index("ix_tenants_location", "tenants", ["location"])
    op.create_index("ix_tenants_desired_state", "tenants", ["desired_state"])
    op.create_index("ix_tenants_lease_expires_at", "tenants", ["lease_expires_at"])

    op.create_table(
        "tenant_events",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("tenant_id", _ID, nullable=False),
        sa.Column("slug", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        _ts("at", nullable=False),
        _ts("recorded_at", nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.Column("data", _JSON),
        sa.PrimaryKeyConstraint("id", name="pk_tenant_events"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_tenant_events_tenant_id_tenants"
        ),
    )
    op.create_index("ix_tenant_events_tenant_id_id", "tenant_events", ["tenant_id", "id"])

    op.create_table(
        "billing_records",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("slug", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        _ts("occurred_at", nullable=False),
        _ts("recorded_at", nullable=False),
        sa.Column("plan", sa.String(32)),
        sa.Column("external_id", sa.String(128)),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("data", _JSON),
        sa.PrimaryKeyConstraint("id", name="pk_billing_records"),
        sa.UniqueConstraint("external_id", name="uq_billing_records_external_id"),
    )
    op.create_index("ix_billing_records_occurred_at", "billing_records", ["occurred_at"])
    op.create_index(
        "ix_billing_records_slug_occurred_at", "billing_records", ["slug", "occurred_at"]
    )
    _append_only_triggers()


def _append_only_triggers() -> None:
    """The audit trail is append-only: the database itself refuses UPDATE and DELETE."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION tenant_events_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'tenant_events is append-only';
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER tenant_events_append_only BEFORE UPDATE OR DELETE ON tenant_events"
            " FOR EACH ROW EXECUTE FUNCTION tenant_events_append_only()"
        )
        return
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER tenant_events_no_{verb.lower()} BEFORE {verb} ON tenant_events"
            " BEGIN SELECT RAISE(ABORT, 'tenant_events is append-only'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS tenant_events_append_only ON tenant_events")
        op.execute("DROP FUNCTION IF EXISTS tenant_events_append_only()")
    op.drop_table("billing_records")
    op.drop_table("tenant_events")
    op.drop_table("tenants")
