"""The SQLAlchemy models and the Alembic migrations describe the same schema, on SQLite and on
PostgreSQL: a column, index or table added to one and not the other fails here, before a
database migrated in production disagrees with the code that queries it."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from provisioner.registry import Registry, work_models
from provisioner.registry.models import Base


def _differences(engine: sa.Engine) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))


def test_the_migrated_schema_is_the_models(db_url: str) -> None:
    assert work_models.metadata is Base.metadata  # every table the registry uses is compared
    with Registry.open(db_url) as registry:
        assert _differences(registry.engine) == []


def test_the_comparison_sees_a_schema_that_drifted(db_url: str) -> None:
    """The check is live: a column the migrations never created is reported."""
    with Registry.open(db_url) as registry:
        with registry.engine.begin() as conn:
            conn.exec_driver_sql("DROP INDEX ix_tenants_unsettled")
            conn.exec_driver_sql("ALTER TABLE signups ADD COLUMN stray INTEGER")
        kinds = sorted(str(diff[0]) for diff in _differences(registry.engine))
    assert kinds == ["add_index", "remove_column"]
