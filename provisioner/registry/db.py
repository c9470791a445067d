"""Engines and migrations: which database, how SQLite is tuned, and migrating to head on open.

- No URL: `PROVISIONER_DATABASE_URL`, else SQLite in WAL mode at `data_dir()/registry.db`.
- SQLite: WAL (readers never block the writer), foreign keys on, a 30 s busy timeout, and write
  transactions opened with `BEGIN IMMEDIATE` so two writers queue instead of failing half-way
  (a deferred transaction that reads then writes can get SQLITE_BUSY without waiting).
  https://docs.sqlalchemy.org/en/20/dialects/sqlite.html#serializable-isolation-savepoints-transactional-ddl
- PostgreSQL: rows are locked with `SELECT ... FOR UPDATE`; migrations take an advisory lock so
  two processes opening a fresh database at once do not both migrate it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from provisioner.errors import EnvironmentProblem, UsageError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_S = 30  # seconds a writer waits for another to commit
_MIGRATION_LOCK_KEY = 5_000_005  # pg_advisory_xact_lock key for migrations (any fixed int)


def resolve_url(url: str | None = None) -> str:
    """The database URL: `url`, else PROVISIONER_DATABASE_URL, else SQLite in the data dir."""
    if url:
        return url
    env = os.environ.get("PROVISIONER_DATABASE_URL", "").strip()
    if env:
        return env
    from provisioner.paths import data_dir

    home = data_dir()
    home.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{home / 'registry.db'}"


def create_engine(url: str) -> sa.Engine:
    """An engine for `url`, tuned per dialect. Raises UsageError for a malformed URL."""
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise UsageError(f"database URL {url!r} is not valid: {exc}") from exc
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")  # the driver we ship
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    try:
        return sa.create_engine(parsed, pool_pre_ping=True)
    except (ImportError, sa.exc.NoSuchModuleError) as exc:
        raise UsageError(f"database URL {url!r}: unsupported driver ({exc})") from exc


def _sqlite_engine(url: sa.URL) -> sa.Engine:
    database = url.database or ""
    if database and database != ":memory:":
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event decide how transactions start (pysqlite would BEGIN
        # DEFERRED on its own otherwise).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")  # WAL's recommended durability/speed point
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        mode = "IMMEDIATE" if conn.get_execution_options().get("write") else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _alembic_config(connection: sa.Connection) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head


def current_revision(engine: sa.Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def migrate(engine: sa.Engine) -> None:
    """Bring the schema to head; a no-op when it is there. Safe with concurrent openers."""
    from alembic import command

    try:
        head = head_revision()
        if current_revision(engine) == head:
            return
        with engine.connect().execution_options(write=True) as conn, conn.begin():
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK_KEY})")
            command.upgrade(_alembic_config(conn), "head")
    except sa.exc.OperationalError as exc:
        raise EnvironmentProblem(
            f"cannot reach the registry database ({engine.url.render_as_string()}): "
            f"{str(exc.orig).strip().splitlines()[0] if exc.orig else exc}; check"
            " PROVISIONER_DATABASE_URL or that the server is running"
        ) from exc
