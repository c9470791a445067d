"""Incidents: the incident, its append-only hash-chained timeline, deletion holds, and the notice
contact kept for a deleted tenant.

Revision ID: 0007_incidents
Revises: 0006_warm_pools
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from provisioner.registry.models import UTCDateTime

revision = "0007_incidents"
down_revision = "0006_warm_pools"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", _ID, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("discovered_at", UTCDateTime(), nullable=False),
        sa.Column("window_start", UTCDateTime()),
        sa.Column("window_end", UTCDateTime(), nullable=False),
        sa.Column("regions", _JSON, nullable=False),
        sa.Column("listed", _JSON, nullable=False),
        sa.Column("hold", sa.Boolean, nullable=False),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("opened_by", sa.String(128), nullable=False),
        sa.Column("closed_at", UTCDateTime()),
        sa.Column("root_cause", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_incidents"),
        sa.CheckConstraint("kind IN ('breach', 'outage', 'other')", name="ck_incidents_kind"),
        sa.CheckConstraint("status IN ('open', 'closed')", name="ck_incidents_status"),
    )
    op.create_index("ix_incidents_status", "incidents", ["status"])
    op.create_table(
        "incident_entries",
        sa.Column("id", _ID, nullable=False),
        sa.Column("incident_id", _ID, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("data", _JSON, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_incident_entries"),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name="fk_incident_entries_incident_id_incidents"
        ),
        # One successor per entry: two writers cannot fork the chain.
        sa.UniqueConstraint("incident_id", "seq", name="uq_incident_entries_incident_id_seq"),
    )
    op.create_table(
        "incident_holds",
        sa.Column("id", _ID, nullable=False),
        sa.Column("incident_id", _ID, nullable=False),
        sa.Column("slug", sa.String(64), nullable=False),
        sa.Column("held_at", UTCDateTime(), nullable=False),
        sa.Column("released_at", UTCDateTime()),
        sa.PrimaryKeyConstraint("id", name="pk_incident_holds"),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name="fk_incident_holds_incident_id_incidents"
        ),
        sa.UniqueConstraint("incident_id", "slug", name="uq_incident_holds_incident_id_slug"),
    )
    op.create_index("ix_incident_holds_slug", "incident_holds", ["slug"])
    op.create_table(
        "notice_contacts",
        sa.Column("slug", sa.String(64), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("deleted_at", UTCDateTime(), nullable=False),
        sa.Column("keep_until", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("slug", name="pk_notice_contacts"),
    )
    op.create_index("ix_notice_contacts_keep_until", "notice_contacts", ["keep_until"])
    _append_only("incident_entries")


def _append_only(table: str) -> None:
    """Like the tenant audit trail: the database itself refuses UPDATE and DELETE."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION {table}_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION '{table} is append-only';
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}"
            f" FOR EACH ROW EXECUTE FUNCTION {table}_append_only()"
        )
        return
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table}"
            f" BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS incident_entries_append_only ON incident_entries")
        op.execute("DROP FUNCTION IF EXISTS incident_entries_append_only()")
    op.drop_table("notice_contacts")
    op.drop_table("incident_holds")
    op.drop_table("incident_entries")
    op.drop_table("incidents")
