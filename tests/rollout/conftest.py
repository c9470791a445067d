"""Rollout fixtures: a registry on SQLite and (PROVISIONER_TEST_POSTGRES_URL) PostgreSQL, the
worker's engine double, a clock moved by hand, and helpers to record releases and drive."""

from __future__ import annotations

from datetime import UTC, datetime

from provisioner.registry import Registry
from provisioner.registry.releases import Release, create_release
from provisioner.rollout.changes import ClassChanges
from tests.registry.conftest import db_url  # noqa: F401  (the fixture, reused)
from tests.worker.conftest import Clock, add_tenants, clock, registry  # noqa: F401  (reused)


def release(registry: Registry, n: int) -> Release:  # noqa: F811
    """A release with made-up commit and hash: the engine double never checks them out."""
    recorded, _ = create_release(
        registry, commit=f"{n:040d}", program_hash=f"hash-{n}", ref=f"v{n}", notes="",
        actor="test", now=datetime.now(UTC),
    )
    return recorded


def classes(registry: Registry) -> ClassChanges:  # noqa: F811
    return ClassChanges({t.slug: (t.location, t.plan) for t in registry.list_tenants()})
