"""Worker fixtures: each test on SQLite and (PROVISIONER_TEST_POSTGRES_URL) PostgreSQL, with a
database of its own (the registry tests' `db_url` fixture), a registry, and an engine double."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from provisioner.registry import Registry
from provisioner.spec import TenantSpec
from tests.registry.conftest import db_url  # noqa: F401  (the fixture, reused)
from tests.worker.engine_double import DoubleEngine

PROGRAM = "test-1"


class Clock:
    """A clock tests move by hand (leases, backoff)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def registry(db_url: str) -> Iterator[Registry]:  # noqa: F811
    with Registry.open(db_url) as reg:
        yield reg


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def engine(tmp_path: Path) -> DoubleEngine:
    return DoubleEngine(tmp_path / "stacks")


def add_tenants(registry: Registry, *slugs: str, location: str = "de", plan: str = "trial") -> None:
    for slug in slugs:
        registry.create_tenant(TenantSpec.create(slug, location, plan), actor="test")
