"""Alembic environment: runs on the connection the registry hands over (`attributes`), or, from
the `alembic` command line (`alembic -c provisioner/registry/alembic.ini ...`), on the URL the
registry would use (PROVISIONER_DATABASE_URL or the data directory's SQLite file)."""

from __future__ import annotations

from alembic import context

from provisioner.registry.models import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    from provisioner.registry.db import create_engine, resolve_url

    engine = create_engine(resolve_url(None))
    with engine.connect().execution_options(write=True) as conn:
        context.configure(connection=conn, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run()
