"""The registry's core: engine, transactions, row locks, event appends, saving facts.

Writes lock the tenant's row (`SELECT ... FOR UPDATE` on PostgreSQL; `BEGIN IMMEDIATE` on
SQLite, which admits one writer at a time), re-read it, decide with the pure lifecycle and
retention functions, then update the row, bump its `version` and append to the event log in the
same transaction. So two processes never both apply one change, and a refused change leaves
nothing behind.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any, Self

import sqlalchemy as sa

from provisioner import retention
from provisioner.errors import RegistryUnavailable, TenantNotFound, UnstorableValue, UsageError
from provisioner.lifecycle import Facts
from provisioner.registry import db
from provisioner.registry.models import tenant_events, tenants
from provisioner.registry.records import (
    FACT_FIELDS,
    BillingRecord,
    Tenant,
    TenantEvent,
    facts_from,
)

Clock = Callable[[], datetime]
_TENANT_FIELDS = tuple(f.name for f in fields(Tenant))
_EVENT_FIELDS = tuple(f.name for f in fields(TenantEvent))
_BILLING_FIELDS = tuple(f.name for f in fields(BillingRecord))

# Statements built once and executed with a parameter dict: building `.values(...)` and its
# cache key on every call was about a third of a signup's CPU (cProfile of POST /v1/tenants).
_LOCK_TENANT = sa.select(tenants).where(tenants.c.slug == sa.bindparam("slug")).with_for_update()
_INSERT_EVENT = sa.insert(tenant_events)
_WRITERS: weakref.WeakKeyDictionary[sa.Engine, threading.RLock] = weakref.WeakKeyDictionary()
_SKIPPING: dict[tuple[str, str, str | None, tuple[str, ...]], Any] = {}


def insert_skipping_conflicts(
    dialect: str, table: sa.Table, returning: tuple[str, ...], on: str | None = None
) -> Any:
    """`INSERT ... ON CONFLICT [(on)] DO NOTHING RETURNING <returning>` for `dialect`, built once;
    execute it with the row's values: no row back means the row was already there."""
    cache_key = (dialect, table.name, on, returning)
    stmt = _SKIPPING.get(cache_key)
    if stmt is None:
        from sqlalchemy.dialects import postgresql, sqlite

        insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
        target = [table.c[on]] if on else None
        stmt = (
            insert(table)
            .on_conflict_do_nothing(index_elements=target)
            .returning(*(table.c[name] for name in returning))
        )
        _SKIPPING[cache_key] = stmt
    return stmt


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime, name: str = "at") -> datetime:
    if value.tzinfo is None:
        raise UsageError(f"{name} {value.isoformat()} has no time zone: give an aware instant")
    return value.astimezone(UTC)


def not_found(slug: str) -> TenantNotFound:
    return TenantNotFound(
        f"no tenant {slug!r} in the registry: `provisioner tenants list` shows them", tenant=slug
    )


def to_tenant(row: Any) -> Tenant:
    return Tenant(**{name: getattr(row, name) for name in _TENANT_FIELDS})


def to_event(row: Any) -> TenantEvent:
    return TenantEvent(**{name: getattr(row, name) for name in _EVENT_FIELDS})


def to_billing(row: Any) -> BillingRecord:
    return BillingRecord(**{name: getattr(row, name) for name in _BILLING_FIELDS})


@contextmanager
def _database_errors(registry: RegistryCore) -> Iterator[None]:
    """The database's failures as the project's errors, so no caller outside the registry needs
    SQLAlchemy: unreachable or refusing (OperationalError) is RegistryUnavailable (exit 3, the
    API's 503); a value the database cannot store (DataError) is UnstorableValue (exit 2, 422)."""
    try:
        yield
    except sa.exc.OperationalError as exc:
        lines = str(exc.orig or exc).strip().splitlines()
        raise RegistryUnavailable(lines[0] if lines else type(exc).__name__, registry.url) from exc
    except sa.exc.DataError as exc:
        raise UnstorableValue("a value cannot be stored as given") from exc


class RegistryCore:
    """Engine and transaction helpers the facade's parts share (see facade.Registry)."""

    def __init__(self, engine: sa.Engine, clock: Clock = _utcnow) -> None:
        self.engine = engine
        self._clock = clock  # wall clock for `recorded_at` and `updated_at` (injected in tests)
        # SQLite admits one writer at a time; threads of one process that wait for it inside
        # SQLite's busy handler sleep in steps of up to 100 ms (the API's p99 under load), so
        # they queue here instead. Other processes still meet at BEGIN IMMEDIATE's busy timeout.
        # Reentrant: a write opened inside another on this thread behaves as before.
        self._writers = (
            _WRITERS.setdefault(engine, threading.RLock())
            if engine.dialect.name == "sqlite"
            else None
        )

    @classmethod
    def open(cls, url: str | None = None, *, migrate: bool = True, clock: Clock = _utcnow) -> Self:
        """Open (and by default migrate to head) the registry at `url`; see `db.resolve_url`."""
        engine = db.create_engine(db.resolve_url(url))
        if migrate:
            db.migrate(engine)
        return cls(engine, clock)

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def ping(self) -> None:
        """Check the database answers; RegistryUnavailable if it does not."""
        with self.read() as conn:
            conn.exec_driver_sql("SELECT 1")

    # --- transactions -------------------------------------------------------------------------

    @contextmanager
    def write(self) -> Iterator[sa.Connection]:
        """A write transaction (SQLite: BEGIN IMMEDIATE); commits on success, else rolls back."""
        with _database_errors(self):
            if self._writers is None:
                with self.engine.connect().execution_options(write=True) as conn, conn.begin():
                    yield conn
                return
            with (
                self._writers,
                self.engine.connect().execution_options(write=True) as conn,
                conn.begin(),
            ):
                yield conn

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        with _database_errors(self), self.engine.connect() as conn, conn.begin():
            yield conn

    def _lock(self, conn: sa.Connection, slug: str) -> Any:
        row = conn.execute(_LOCK_TENANT, {"slug": slug}).one_or_none()
        if row is None:
            raise not_found(slug)
        return row

    def _event(
        self,
        conn: sa.Connection,
        row: Any,
        kind: str,
        at: datetime,
        actor: str,
        reason: str = "",
        data: dict[str, Any] | None = None,
    ) -> TenantEvent:
        values = {
            "tenant_id": row.id,
            "slug": row.slug,
            "kind": kind,
            "at": at,
            "recorded_at": self._clock(),
            "actor": actor,
            "reason": reason,
            "data": data,
        }
        new_id = conn.execute(_INSERT_EVENT, values).inserted_primary_key
        assert new_id is not None
        del values["tenant_id"]
        return TenantEvent(id=new_id[0], **values)

    def _save_facts(self, conn: sa.Connection, row: Any, facts: Facts, **extra: Any) -> Tenant:
        """Write `facts` (and `extra` columns) to the locked row; bump version and generation."""
        values: dict[str, Any] = {name: getattr(facts, name) for name in FACT_FIELDS}
        values["desired_state"] = facts.state
        values.update(extra)
        values["version"] = row.version + 1
        values["updated_at"] = self._clock()
        if facts.state != row.desired_state:
            values["generation"] = row.generation + 1
        result = conn.execute(
            sa.update(tenants)
            .where(tenants.c.id == row.id, tenants.c.version == row.version)
            .values(**values)
        )
        if result.rowcount != 1:  # impossible under the row lock; never write over a stranger
            raise RuntimeError(f"tenant {row.slug!r} changed under a held lock")
        return to_tenant(conn.execute(sa.select(tenants).where(tenants.c.id == row.id)).one())

    def _settle(self, conn: sa.Connection, row: Any, at: datetime, what: str) -> tuple[Any, Facts]:
        """Apply retention actions due by `at` before a change at `at` (refuse if deletion was)."""
        facts, applied = retention.settle_before(facts_from(row), at, what)
        for action in applied:
            self._event(
                conn,
                row,
                f"retention.{action.action}",
                at,
                "retention",
                action.reason,
                {"rule": action.rule, "due": retention.iso(action.due)},
            )
        if applied:
            self._save_facts(conn, row, facts)
            row = self._lock(conn, row.slug)
        return row, facts
