"""Run the Registry facade's methods inside a transaction the caller already holds.

The facade opens one short transaction per call (`Registry.write()`). The signup API and the
workers need several of its steps and their own rows to commit together or not at all (a tenant
and its idempotency key; an observed state, a released lease and a webhook delivery), so they
hand the facade their connection instead of duplicating its logic.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

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
