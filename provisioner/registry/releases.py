"""Releases in the registry: immutable records of a program version (commit + program hash).

Database triggers refuse UPDATE and DELETE on `releases` (migration 0005): going back is applying
an older release, never editing one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from provisioner.errors import ReleaseNotFound
from provisioner.registry.facade import Registry
from provisioner.registry.models import releases, tenants
from provisioner.retention import iso


@dataclass(frozen=True)
class Release:
    id: int
    commit: str
    program_hash: str
    ref: str
    notes: str
    actor: str
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["created_at"] = iso(self.created_at)
        return data


def _release(row: Any) -> Release:
    return Release(**{k: getattr(row, k) for k in Release.__dataclass_fields__})


def create_release(
    registry: Registry,
    *,
    commit: str,
    program_hash: str,
    ref: str,
    notes: str,
    actor: str,
    now: datetime,
) -> tuple[Release, bool]:
    """Record a release; (the release, True) or, for a program already recorded, (it, False)."""
    with registry.write() as conn:
        found = conn.execute(
            sa.select(releases).where(releases.c.program_hash == program_hash)
        ).one_or_none()
        if found is not None:
            return _release(found), False
        new_id = conn.execute(
            sa.insert(releases).values(
                commit=commit,
                program_hash=program_hash,
                ref=ref,
                notes=notes,
                actor=actor,
                created_at=now,
            )
        ).inserted_primary_key
        assert new_id is not None
        row = conn.execute(sa.select(releases).where(releases.c.id == new_id[0])).one()
        return _release(row), True


def list_releases(registry: Registry) -> list[Release]:
    with registry.read() as conn:
        return [_release(r) for r in conn.execute(sa.select(releases).order_by(releases.c.id))]


def get_release(registry: Registry, release_id: int) -> Release:
    with registry.read() as conn:
        row = conn.execute(sa.select(releases).where(releases.c.id == release_id)).one_or_none()
    if row is None:
        raise ReleaseNotFound(
            f"no release {release_id}: `provisioner release list` shows the recorded ones"
        )
    return _release(row)


@dataclass(frozen=True)
class TenantRelease:
    """A tenant a rollout may move: where it is, its plan, and the release it is on now."""

    slug: str
    location: str
    plan: str
    canary: bool
    release_id: int | None


def tenants_not_on(registry: Registry, release_id: int) -> list[TenantRelease]:
    """Tenants not on `release_id` that still have a stack to update (not deleted), by slug."""
    c = tenants.c
    with registry.read() as conn:
        rows = conn.execute(
            sa.select(c.slug, c.location, c.plan, c.canary, c.release_id)
            .where(c.desired_state != "deleted")
            .where(sa.or_(c.release_id.is_(None), c.release_id != release_id))
            .order_by(c.slug)
        ).all()
    return [TenantRelease(r.slug, r.location, r.plan, bool(r.canary), r.release_id) for r in rows]


def release_commits(registry: Registry) -> dict[int, str]:
    """Every recorded release's id and commit."""
    with registry.read() as conn:
        return dict(conn.execute(sa.select(releases.c.id, releases.c.commit)).all())
