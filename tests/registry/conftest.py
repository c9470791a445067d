"""Registry fixtures: every test runs on SQLite and, when PROVISIONER_TEST_POSTGRES_URL is set,
on PostgreSQL too. Each test gets a database of its own: a fresh SQLite file, or a fresh
PostgreSQL schema (selected through the URL's search_path, so the product code sees an ordinary
URL) dropped afterwards. Schemas have random names, so pytest-xdist workers never collide."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from provisioner.registry import Registry

PG_URL = os.environ.get("PROVISIONER_TEST_POSTGRES_URL", "").strip()
T0 = datetime(2026, 1, 1, tzinfo=UTC)  # a fixed "now" for every test


def _backends() -> list[object]:
    return [
        pytest.param("sqlite", id="sqlite"),
        pytest.param(
            "postgresql",
            id="postgresql",
            marks=[
                pytest.mark.postgres,
                pytest.mark.skipif(not PG_URL, reason="PROVISIONER_TEST_POSTGRES_URL is not set"),
            ],
        ),
    ]


def _pg_admin_url() -> sa.URL:
    url = sa.make_url(PG_URL)
    return url.set(drivername="postgresql+psycopg") if url.drivername == "postgresql" else url


@contextmanager
def fresh_database(backend: str, directory: Path) -> Iterator[str]:
    """A URL to an empty database of its own on `backend`, removed afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{directory / 'registry.db'}"
        return
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(_pg_admin_url())
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    base = _pg_admin_url().render_as_string(hide_password=False)
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture(params=_backends())
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty database of its own, on each backend."""
    with fresh_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture(scope="module", params=_backends())
def module_db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Like db_url, shared by one module's tests (for read-only or refused-change tests)."""
    with fresh_database(request.param, tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture
def registry(db_url: str) -> Iterator[Registry]:
    with Registry.open(db_url) as reg:
        yield reg


def point_cli_at(url: str, monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    monkeypatch.setenv("PROVISIONER_DATABASE_URL", url)
    monkeypatch.setenv("PROVISIONER_HOME", str(home))
    monkeypatch.setenv("PROVISIONER_ACTOR", "test:operator")
    monkeypatch.delenv("PROVISIONER_DEBUG", raising=False)


@pytest.fixture
def cli_env(db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """Point the CLI at this test's database; returns its URL."""
    point_cli_at(db_url, monkeypatch, tmp_path / "home")
    return db_url
