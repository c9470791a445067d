"""Run the Registry facade's methods inside a transaction the caller already holds.

The facade opens one short transaction per call (`Registry.write()`). The signup API and the
workers need several of its steps and their own rows to commit together or not at all (a tenant
and its idempotency key; an observed state, a released lease and a webhook delivery), so they
hand the facade their connection instead of duplicating its logic.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from provisioner.registry.core import insert_skipping_conflicts
from provisioner.registry.facade import Registry


class InTransaction(Registry):
    """A Registry whose `write()` and `read()` yield `conn`: the caller commits or rolls back."""

    def __init__(self, registry: Registry, conn: sa.Connection) -> None:
        super().__init__(registry.engine, registry._clock)
        self._conn = conn

    @contextmanager
    def write(self) -> Iterator[sa.Connection]:
        yield self._conn

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        yield self._conn


def bound(registry: Registry, conn: sa.Connection) -> Registry:
    """`registry`'s operations, joined to the caller's open transaction on `conn`."""
    return InTransaction(registry, conn)


def insert_ignoring_conflicts(conn: sa.Connection, table: sa.Table, values: dict[str, Any]) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING; True if the row went in.

    On PostgreSQL a conflicting row that another transaction has not committed yet makes this
    wait for that transaction, so exactly one of many concurrent inserts of one key wins. (The
    RETURNING row, not `rowcount`, says whether it did: drivers disagree on the latter here.)
    """
    key = next(iter(table.primary_key.columns)).name
    stmt = insert_skipping_conflicts(conn.dialect.name, table, (key,))
    return conn.execute(stmt, values).first() is not None
