"""Tables of the signup API and the workers (issue 6), kept apart from the registry's own.

- `idempotency_keys`: one row per caller and `Idempotency-Key` the API has seen: the hash of the
  request it came with and the answer it got, replayed verbatim for that caller's retry with the
  same body until the key expires (24 h by default; `provisioner purge-idempotency-keys`).
- `signups`: what the signup service told us that the stack does not need (the admin's e-mail);
  scrubbed when the tenant's data is deleted.
- `webhook_deliveries`: the per-tenant delivery log of state-change notifications, with the
  attempts made, their outcome and when the next one is due.

Two columns of `tenants` belong to the workers as well (models.TenantRow): `attempt_generation`
(the generation `attempts` counts against: a new desired state earns fresh attempts) and
`observed_plan` (the plan the stack was last built with, so a plan change triggers an update).
"""

from __future__ import annotations

import sqlalchemy as sa

from provisioner.registry.models import _ID, Base, JSONType, UTCDateTime

metadata = Base.metadata

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("caller", sa.String(128), primary_key=True),  # api:<token name>: keys are per caller
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("request_hash", sa.String(64), nullable=False),  # sha256 of the canonical body
    sa.Column("slug", sa.String(64), nullable=False),
    sa.Column("status_code", sa.Integer, nullable=False),  # the answer, replayed verbatim
    sa.Column("response", JSONType, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False, index=True),
)

signups = sa.Table(
    "signups",
    metadata,
    sa.Column("slug", sa.String(64), primary_key=True),
    sa.Column("admin_email", sa.String(254)),  # None once the tenant's data is deleted
    sa.Column("idempotency_key", sa.String(255)),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("slug", sa.String(64), nullable=False),
    sa.Column("event", sa.String(64), nullable=False),  # tenant.ready, tenant.failed, ...
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("payload", JSONType, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # pending, delivered, failed
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", UTCDateTime),
    sa.Column("lease_owner", sa.String(128)),
    sa.Column("lease_expires_at", UTCDateTime),
    sa.Column("last_status_code", sa.Integer),
    sa.Column("last_error", sa.Text),
    sa.Column("log", JSONType),  # one entry per attempt: at, status_code, error, ms
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("delivered_at", UTCDateTime),
    sa.Index("ix_webhook_deliveries_slug_id", "slug", "id"),
    sa.Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
)
