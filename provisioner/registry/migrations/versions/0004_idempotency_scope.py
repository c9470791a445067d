"""Idempotency keys belong to the caller that sent them, and expire.

The key's primary key becomes (caller, key): another token sending the same key is another
request, never a replay of the first caller's answer. Existing keys are given the caller that
used them, from the signup they created (`signups.actor`); a key without a signup keeps an empty
caller, which no token has, so it is never replayed and is purged with the expired ones.

Revision ID: 0004_idempotency_scope
Revises: 0003_unsettled_index
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from provisioner.registry.models import UTCDateTime

revision = "0004_idempotency_scope"
down_revision = "0003_unsettled_index"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_COLUMNS = "key, request_hash, slug, status_code, response, created_at"


def _create(name: str, scoped: bool) -> None:
    key_columns = ("caller", "key") if scoped else ("key",)
    op.create_table(
        name,
        *([sa.Column("caller", sa.String(128), nullable=False)] if scoped else []),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("slug", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=False),
        sa.Column("response", _JSON, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint(*key_columns, name=f"pk_{name}"),
    )


def _swap(new: str) -> None:
    """Replace idempotency_keys by `new` (filled by the caller), keeping names and the index."""
    op.drop_index("ix_idempotency_keys_created_at", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
    op.rename_table(new, "idempotency_keys")
    if op.get_bind().dialect.name == "postgresql":  # a renamed table keeps its old PK name
        op.execute(f"ALTER INDEX pk_{new} RENAME TO pk_idempotency_keys")
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])


def upgrade() -> None:
    _create("idempotency_keys_scoped", scoped=True)
    op.execute(
        f"INSERT INTO idempotency_keys_scoped (caller, {_COLUMNS})"
        " SELECT COALESCE((SELECT MIN(s.actor) FROM signups s"
        f" WHERE s.idempotency_key = k.key), ''), {_COLUMNS.replace('key,', 'k.key,', 1)}"
        " FROM idempotency_keys k"
    )
    _swap("idempotency_keys_scoped")


def downgrade() -> None:
    # Keys shared by two callers cannot both survive a global key: the oldest one stays.
    _create("idempotency_keys_global", scoped=False)
    op.execute(
        f"INSERT INTO idempotency_keys_global ({_COLUMNS})"
        f" SELECT {_COLUMNS} FROM idempotency_keys k"
        " WHERE NOT EXISTS (SELECT 1 FROM idempotency_keys o WHERE o.key = k.key"
        " AND (o.created_at < k.created_at"
        " OR (o.created_at = k.created_at AND o.caller < k.caller)))"
    )
    _swap("idempotency_keys_global")
