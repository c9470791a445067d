"""The registry owns the database: one URL resolver, and the reads the API needs (ping, tenants
by state, deliveries by status) with the database's failures turned into the project's errors,
so nothing outside provisioner/registry needs SQLAlchemy."""

from __future__ import annotations

from pathlib import Path

import pytest

from provisioner.errors import (
    EXIT_ENVIRONMENT,
    RegistryUnavailable,
    TenantNotFound,
    UnstorableValue,
)
from provisioner.paths import database_url, existing_database_url
from provisioner.registry import Registry, db, webhooks
from provisioner.spec import TenantSpec
from tests.registry.conftest import T0


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("PROVISIONER_DATABASE_URL", raising=False)
    monkeypatch.setenv("PROVISIONER_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_the_url_is_the_flag_then_the_environment_then_the_data_directory(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    default = f"sqlite:///{home / 'registry.db'}"
    assert database_url() == default
    assert db.resolve_url() == default  # the registry uses the same resolver
    monkeypatch.setenv("PROVISIONER_DATABASE_URL", "  sqlite:////srv/env.db \n")
    assert database_url() == "sqlite:////srv/env.db"
    assert database_url("sqlite:////srv/flag.db") == "sqlite:////srv/flag.db"
    monkeypatch.setenv("PROVISIONER_DATABASE_URL", "   ")  # blank counts as unset everywhere
    assert database_url() == default
    assert existing_database_url() is None
    assert not home.exists()  # resolving creates nothing


def test_an_existing_registry_is_one_configured_or_already_on_disk(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert existing_database_url() is None
    assert existing_database_url("sqlite:////srv/flag.db") == "sqlite:////srv/flag.db"
    with Registry.open():
        pass
    assert existing_database_url() == f"sqlite:///{home / 'registry.db'}"
    (home / "registry.db").unlink()
    monkeypatch.setenv("PROVISIONER_DATABASE_URL", "sqlite:////srv/env.db")
    assert existing_database_url() == "sqlite:////srv/env.db"


def test_tenants_by_state_and_deliveries_by_status(registry: Registry) -> None:
    assert registry.state_counts() == {}
    for slug in ("acme", "globex", "initech"):
        registry.create_tenant(TenantSpec.create(slug, "de", "trial"), actor="t", at=T0)
    registry.set_observed_state("acme", "active", actor="worker", at=T0, generation=1)
    registry.suspend("globex", actor="t", at=T0)
    assert registry.state_counts() == {
        ("active", "active"): 1,
        ("active", None): 1,
        ("suspended", None): 1,
    }
    assert webhooks.status_counts(registry) == {}
    with registry.write() as conn:
        for slug in ("acme", "globex"):
            webhooks.enqueue(
                conn, slug=slug, event="tenant.ready", url="https://h/", payload={}, now=T0
            )
    assert webhooks.status_counts(registry) == {webhooks.PENDING: 2}


def test_ping_answers_on_a_reachable_database(registry: Registry) -> None:
    registry.ping()


def test_an_unreachable_database_is_registry_unavailable_with_its_context() -> None:
    url = "postgresql+psycopg://nobody:hunter2@127.0.0.1:9/none?connect_timeout=2"
    registry = Registry(db.create_engine(url))
    with pytest.raises(RegistryUnavailable) as caught:
        registry.ping()
    assert caught.value.exit_code == EXIT_ENVIRONMENT
    assert caught.value.url.startswith("postgresql+psycopg://nobody:***@127.0.0.1:9/")
    assert "hunter2" not in str(caught.value) and "hunter2" not in caught.value.url
    assert caught.value.reason and caught.value.reason in str(caught.value)
    with pytest.raises(RegistryUnavailable):  # every read and write, not only ping
        registry.find_tenant("acme")
    registry.close()


def test_a_value_the_database_cannot_store_is_a_usage_error(registry: Registry) -> None:
    # PostgreSQL refuses a NUL in text (DataError); SQLite stores it and finds no such tenant.
    expected = UnstorableValue if registry.engine.dialect.name == "postgresql" else TenantNotFound
    with pytest.raises(expected):
        registry.get_tenant("a\x00b")
