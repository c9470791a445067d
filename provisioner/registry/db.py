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

import re
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from provisioner.errors import EnvironmentProblem, UsageError
from provisioner.paths import database_url

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_S = 30  # seconds a writer waits for another to commit
# PostgreSQL connections per process: the same ceiling as SQLAlchemy's default (5 kept + 10
# overflow), all kept open once opened (see create_engine).
PG_POOL_SIZE, PG_POOL_OVERFLOW = 15, 0
_MIGRATION_LOCK_KEY = 5_000_005  # pg_advisory_xact_lock key for migrations (any fixed int)


def resolve_url(url: str | None = None) -> str:
    """The database URL: `url`, else PROVISIONER_DATABASE_URL, else SQLite in the data dir
    (provisioner.paths.database_url; a SQLite file's directory is created when it is opened)."""
    return database_url(url)


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
        # Connections past pool_size are closed when returned, so with the default 5 every
        # burst wider than that paid a new connection and its session setup, just when the API
        # was busiest (6 new sessions in a warm 5 s at 200 signups/s; none with 15 kept).
        engine = sa.create_engine(
            parsed, pool_pre_ping=True, pool_size=PG_POOL_SIZE, max_overflow=PG_POOL_OVERFLOW
        )
    except (ImportError, sa.exc.NoSuchModuleError) as exc:
        raise UsageError(f"database URL {url!r}: unsupported driver ({exc})") from exc
    if engine.dialect.name == "postgresql":

        @event.listens_for(engine, "connect")
        def _utc_session(dbapi_conn: Any, _record: Any) -> None:
            # Instants come back in UTC (psycopg then uses datetime.UTC: no conversion per
            # value). Outside a transaction, so a later rollback cannot undo it.
            autocommit = dbapi_conn.autocommit
            dbapi_conn.autocommit = True
            dbapi_conn.execute("SET TIME ZONE 'UTC'")
            dbapi_conn.autocommit = autocommit

    return engine


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


_REVISION_RE = re.compile(r'^(down_revision|revision)\s*=\s*["\']?([\w.-]+|None)["\']?\s*$', re.M)


def script_head() -> str | None:
    """The newest migration's revision, read from the version files without importing Alembic
    (a fifth of a second saved on every CLI command). None if the history is not one line; then
    Alembic decides. tests/registry checks it against Alembic's own head."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        found = dict(_REVISION_RE.findall(path.read_text(encoding="utf-8")))
        if "revision" not in found:
            continue
        revisions.add(found["revision"])
        parents.add(found.get("down_revision", "None"))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _stored_revision(engine: sa.Engine) -> str | None:
    """alembic_version's row, read with plain SQL (None on an empty database)."""
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("alembic_version"):
            return None
        return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()


def migrate(engine: sa.Engine) -> None:
    """Bring the schema to head; a no-op when it is there. Safe with concurrent openers."""
    try:
        head = script_head()
        if head is not None and _stored_revision(engine) == head:
            return
        from alembic import command

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
