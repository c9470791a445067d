"""Idempotency keys are per caller and expire: another token's key is another request; a key
older than the replay period is forgotten and purged in bounded batches; migration 0004 gives
existing keys the caller that used them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from typer.testing import CliRunner

from provisioner.cli.main import app
from provisioner.registry import Registry
from provisioner.registry import signup as signups
from provisioner.registry.work_models import idempotency_keys
from provisioner.spec import TenantSpec
from tests.api.conftest import SIGNUP, Live, auth

T0 = datetime(2026, 6, 1, tzinfo=UTC)


def test_another_token_with_the_same_key_never_gets_the_first_callers_answer(live: Live) -> None:
    with live.client() as http:
        first = http.post("/v1/tenants", json=SIGNUP,
                          headers={**auth("signup"), "Idempotency-Key": "k-1"})  # fmt: skip
        assert first.status_code == 202
        other = {**SIGNUP, "slug": "other"}
        second = http.post("/v1/tenants", json=other,
                           headers={**auth("admin"), "Idempotency-Key": "k-1"})  # fmt: skip
        assert second.status_code == 202, second.text  # its own request, not a 409 or a replay
        assert second.json()["slug"] == "other" and "idempotent-replayed" not in second.headers
        replay = http.post("/v1/tenants", json=other,
                           headers={**auth("admin"), "Idempotency-Key": "k-1"})  # fmt: skip
        assert replay.json() == second.json() and replay.headers["idempotent-replayed"] == "true"
        reused = http.post("/v1/tenants", json=SIGNUP,
                           headers={**auth("admin"), "Idempotency-Key": "k-1"})  # fmt: skip
        assert reused.json()["error"]["code"] == "idempotency_key_reused"  # against admin's body
    assert sorted(t.slug for t in live.registry.list_tenants()) == ["acme", "other"]


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def _signup(registry: Registry, slug: str, key: str, actor: str = "api:signup") -> Any:
    return signups.signup(
        registry,
        TenantSpec.create(slug, "de", "trial"),
        "ops@x.example",
        actor=actor,
        key=key,
        request_hash=slug * 2,
        render=lambda t: {"slug": t.slug},
        conflict=lambda e: {"error": str(e)},
        key_ttl=timedelta(hours=24),
    )


def test_a_key_is_replayed_for_its_period_then_forgotten(db_url: str) -> None:
    clock = Clock()
    with Registry.open(db_url, clock=clock) as registry:
        assert _signup(registry, "acme", "k").replayed is False
        clock.now = T0 + timedelta(hours=23)
        assert _signup(registry, "acme", "k").replayed is True
        clock.now = T0 + timedelta(hours=24)
        fresh = _signup(registry, "beta", "k")  # another body: no 409 once the key expired
        assert fresh.replayed is False and fresh.body == {"slug": "beta"}


def test_purge_deletes_expired_keys_in_bounded_batches(db_url: str) -> None:
    clock = Clock()
    with Registry.open(db_url, clock=clock) as registry:
        for i in range(5):
            clock.now = T0 + timedelta(minutes=i)
            _signup(registry, f"t{i:02d}x", f"k{i}")
        cutoff = T0 + timedelta(minutes=4)  # the last one is kept
        assert signups.purge_idempotency_keys(registry, before=cutoff, batch=2, max_batches=1) == 2
        assert signups.purge_idempotency_keys(registry, before=cutoff, batch=2) == 2
        with registry.read() as conn:
            left = conn.execute(sa.select(idempotency_keys.c.key)).scalars().all()
        assert left == ["k4"]


def test_the_purge_command(db_url: str, monkeypatch: Any) -> None:
    monkeypatch.delenv("PROVISIONER_IDEMPOTENCY_TTL_HOURS", raising=False)
    now = datetime.now(UTC)
    clock = Clock()
    with Registry.open(db_url, clock=clock) as registry:
        clock.now = now - timedelta(hours=30)
        _signup(registry, "oldco", "old")
        clock.now = now - timedelta(hours=1)
        _signup(registry, "newco", "new")
    result = CliRunner().invoke(
        app, ["purge-idempotency-keys", "--database-url", db_url, "-o", "json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["purged"] == 1
    bad = CliRunner().invoke(app, ["purge-idempotency-keys", "--older-than-hours", "0"])
    assert bad.exit_code == 2


def test_migration_0004_gives_existing_keys_their_caller(tmp_path: Path) -> None:
    from alembic import command

    from provisioner.registry import db

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = db.create_engine(url)
    with engine.connect() as conn, conn.begin():
        command.upgrade(db._alembic_config(conn), "0003_unsettled_index")
        conn.exec_driver_sql(
            "INSERT INTO idempotency_keys (key, request_hash, slug, status_code, response,"
            " created_at) VALUES ('k1', 'h', 'acme', 202, '{}', '2026-06-01 00:00:00.000000'),"
            " ('k2', 'h', 'beta', 409, '{}', '2026-06-01 00:00:00.000000')"
        )
        conn.exec_driver_sql(
            "INSERT INTO signups (slug, idempotency_key, actor, created_at)"
            " VALUES ('acme', 'k1', 'api:signup', '2026-06-01 00:00:00.000000')"
        )
    engine.dispose()
    with Registry.open(url) as registry, registry.read() as conn:
        rows = conn.execute(
            sa.select(idempotency_keys.c.caller, idempotency_keys.c.key).order_by("key")
        ).all()
    assert [tuple(r) for r in rows] == [("api:signup", "k1"), ("", "k2")]
    engine = db.create_engine(url)
    with engine.connect() as conn, conn.begin():
        command.downgrade(db._alembic_config(conn), "0003_unsettled_index")
        keys = conn.exec_driver_sql("SELECT key FROM idempotency_keys ORDER BY key").scalars()
        assert keys.all() == ["k1", "k2"]
    engine.dispose()
