"""Warm pools: pooled instances, per-location pool targets, and each tenant's instance id.

- `tenants.instance_id`: what the tenant's stack and physical names derive from; NULL for every
  tenant created directly (its instance id is its slug), so nothing existing changes.
- `pool_instances`: one row per instance a pool ever built (building, ready, bound, recycling,
  recycled, failed), with a worker lease so a killed worker's build is taken over.
- `pool_targets`: how many ready instances each (location, plan) pool keeps.

Revision ID: 0006_warm_pools
Revises: 0005_rollouts
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from provisioner.registry.models import UTCDateTime

revision = "0006_warm_pools"
down_revision = "0005_rollouts"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(sa.Column("instance_id", sa.String(64), nullable=True))
        batch.create_unique_constraint("uq_tenants_instance_id", ["instance_id"])
    op.create_table(
        "pool_instances",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("instance_id", sa.String(64), nullable=False),
        sa.Column("location", sa.String(16), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("plan", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("program_version", sa.String(64)),
        sa.Column("tenant_slug", sa.String(64)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("ready_at", UTCDateTime()),
        sa.Column("bound_at", UTCDateTime()),
        sa.Column("finished_at", UTCDateTime()),
        sa.Column("lease_owner", sa.String(128)),
        sa.Column("lease_expires_at", UTCDateTime()),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_pool_instances"),
        sa.UniqueConstraint("instance_id", name="uq_pool_instances_instance_id"),
    )
    op.create_index(
        "ix_pool_instances_location_plan_state",
        "pool_instances",
        ["location", "plan", "state", "ready_at"],
    )
    op.create_table(
        "pool_targets",
        sa.Column("location", sa.String(16), nullable=False),
        sa.Column("plan", sa.String(32), nullable=False),
        sa.Column("target", sa.Integer, nullable=False),
        sa.Column("max_idle_hours", sa.Float, nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("location", "plan", name="pk_pool_targets"),
    )


def downgrade() -> None:
    op.drop_table("pool_targets")
    op.drop_index("ix_pool_instances_location_plan_state", table_name="pool_instances")
    op.drop_table("pool_instances")
    with op.batch_alter_table("tenants") as batch:
        batch.drop_constraint("uq_tenants_instance_id", type_="unique")
        batch.drop_column("instance_id")
