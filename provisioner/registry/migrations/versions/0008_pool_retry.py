"""Warm pools: when a pooled instance's failed job may be tried again.

`pool_instances.next_attempt_at`: a failed build, update or recycle backs off (30 s doubling,
capped at an hour, like tenant attempts) instead of being retried at once; NULL means due now.
Without it a persistent problem (no Pulumi CLI, no credentials) made the workers fail, replace
and fail again every few seconds.

Revision ID: 0008_pool_retry
Revises: 0007_incidents
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from provisioner.registry.models import UTCDateTime

revision = "0008_pool_retry"
down_revision = "0007_incidents"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pool_instances") as batch:
        batch.add_column(sa.Column("next_attempt_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pool_instances") as batch:
        batch.drop_column("next_attempt_at")
