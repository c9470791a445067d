"""Releases and rollouts (issue 15): immutable releases, rollouts, their tenants and events,
and the tenants' release columns and say in rollouts (canary, window, pin, legal hold).

Revision ID: 0005_rollouts
Revises: 0004_idempotency_scope
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from provisioner.registry.models import UTCDateTime

revision = "0005_rollouts"
down_revision = "0004_idempotency_scope"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(sa.Column("release_id", sa.Integer))
        batch.add_column(sa.Column("target_release_id", sa.Integer))
        batch.add_column(sa.Column("canary", sa.Boolean))
        batch.add_column(sa.Column("maintenance_window", sa.String(64)))
        batch.add_column(sa.Column("pinned_until", UTCDateTime()))
        batch.add_column(sa.Column("pin_reason", sa.Text))
        batch.add_column(sa.Column("legal_hold", sa.Text))
    op.create_table(
        "releases",
        sa.Column("id", _ID, nullable=False),
        sa.Column("commit", sa.String(64), nullable=False),
        sa.Column("program_hash", sa.String(64), nullable=False),
        sa.Column("ref", sa.String(255), nullable=False),
        sa.Column("notes", sa.Text, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_releases"),
        sa.UniqueConstraint("program_hash", name="uq_releases_program_hash"),
    )
    op.create_table(
        "rollouts",
        sa.Column("id", _ID, nullable=False),
        sa.Column("release_id", _ID, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("strategy", _JSON, nullable=False),
        sa.Column("waves", _JSON, nullable=False),
        sa.Column("wave", sa.Integer, nullable=False),
        sa.Column("wave_started_at", UTCDateTime()),
        sa.Column("wave_finished_at", UTCDateTime()),
        sa.Column("wave_checked", sa.Boolean, nullable=False),
        sa.Column("accepted_failures", sa.Integer, nullable=False),
        sa.Column("halt_reason", sa.Text),
        sa.Column("failing", _JSON),
        sa.Column("dangerous_reason", sa.Text),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rollouts"),
        sa.ForeignKeyConstraint(
            ["release_id"], ["releases.id"], name="fk_rollouts_release_id_releases"
        ),
    )
    op.create_index("ix_rollouts_state", "rollouts", ["state"])
    op.create_table(
        "rollout_tenants",
        sa.Column("rollout_id", _ID, nullable=False),
        sa.Column("slug", sa.String(64), nullable=False),
        sa.Column("wave", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("from_release_id", sa.Integer),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("rollout_id", "slug", name="pk_rollout_tenants"),
        sa.ForeignKeyConstraint(
            ["rollout_id"], ["rollouts.id"], name="fk_rollout_tenants_rollout_id_rollouts"
        ),
    )
    op.create_index(
        "ix_rollout_tenants_rollout_id_wave", "rollout_tenants", ["rollout_id", "wave"]
    )
    op.create_table(
        "rollout_events",
        sa.Column("id", _ID, nullable=False),
        sa.Column("rollout_id", _ID, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("data", _JSON),
        sa.PrimaryKeyConstraint("id", name="pk_rollout_events"),
        sa.ForeignKeyConstraint(
            ["rollout_id"], ["rollouts.id"], name="fk_rollout_events_rollout_id_rollouts"
        ),
    )
    op.create_index("ix_rollout_events_rollout_id_id", "rollout_events", ["rollout_id", "id"])
    _immutable("releases")


def _immutable(table: str) -> None:
    """A release is what was deployed: the database itself refuses to change or remove one."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION {table}_immutable() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION '{table} are immutable';
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            f"CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table}"
            f" FOR EACH ROW EXECUTE FUNCTION {table}_immutable()"
        )
        return
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table}"
            f" BEGIN SELECT RAISE(ABORT, '{table} are immutable'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS releases_immutable ON releases")
        op.execute("DROP FUNCTION IF EXISTS releases_immutable()")
    op.drop_table("rollout_events")
    op.drop_table("rollout_tenants")
    op.drop_table("rollouts")
    op.drop_table("releases")
    with op.batch_alter_table("tenants") as batch:
        for name in ("legal_hold", "pin_reason", "pinned_until", "maintenance_window", "canary",
                     "target_release_id", "release_id"):
            batch.drop_column(name)
