"""200 concurrent duplicate signups make exactly one tenant: with one Idempotency-Key (all get
the same 202), and with one slug under 200 different keys (one 202, the rest 409)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.api.conftest import SIGNUP, Live, auth

N = 200


def _storm(live: Live, keys: list[str]) -> list[httpx.Response]:
    barrier = threading.Barrier(len(keys))

    def post(key: str) -> httpx.Response:
        with live.client() as http:  # a connection each: really concurrent
            barrier.wait()
            return http.post(
                "/v1/tenants", json=SIGNUP, headers={**auth("signup"), "Idempotency-Key": key}
            )

    with ThreadPoolExecutor(len(keys)) as pool:
        return list(pool.map(post, keys))


def test_one_key_200_times_makes_one_tenant_and_one_answer(live: Live) -> None:
    responses = _storm(live, ["same-key"] * N)
    assert {r.status_code for r in responses} == {202}
    assert len({r.text for r in responses}) == 1  # the very same answer
    assert sum(r.headers.get("idempotent-replayed") != "true" for r in responses) == 1
    assert [t.slug for t in live.registry.list_tenants()] == ["acme"]
    assert [e.kind for e in live.registry.events("acme")] == ["created"]


def test_one_slug_under_200_keys_makes_one_tenant(live: Live) -> None:
    responses = _storm(live, [f"key-{i}" for i in range(N)])
    codes = sorted(r.status_code for r in responses)
    assert codes == [202] + [409] * (N - 1)
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {
        "tenant_exists"
    }
    assert [t.slug for t in live.registry.list_tenants()] == ["acme"]
    assert [e.kind for e in live.registry.events("acme")] == ["created"]
