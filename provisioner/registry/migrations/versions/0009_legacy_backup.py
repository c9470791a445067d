"""Tenants whose stacks were built before the backup account keep their old backup copy until
the new vault holds copies for their plan's retention (provisioner/registry/legacy_backup.py).

- `tenants.legacy_backup`: set for every tenant with a built stack (reconciled once, not
  deleted) when this migration runs: those stacks were built by the program before the backup
  account and hold its in-account copy vault and key replica;
- `tenants.legacy_backup_until`: when that copy may be retired (set by the first update after).

Revision ID: 0009_legacy_backup
Revises: 0008_pool_retry
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from provisioner.registry.models import UTCDateTime

revision = "0009_legacy_backup"
down_revision = "0008_pool_retry"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(sa.Column("legacy_backup", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("legacy_backup_until", UTCDateTime(), nullable=True))
    op.execute(
        "UPDATE tenants SET legacy_backup = TRUE"
        " WHERE observed_generation IS NOT NULL AND observed_state <> 'deleted'"
    )


def downgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("legacy_backup_until")
        batch.drop_column("legacy_backup")
