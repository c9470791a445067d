"""GET /v1/tenants: filters (state, location, plan, created since) and cursor pagination."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from provisioner.api import paging
from provisioner.spec import TenantSpec
from tests.api.conftest import Live, auth

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _seed(live: Live) -> None:
    rows = [
        ("alpha", "de", "trial", 0), ("bravo", "de", "standard", 1), ("charlie", "uk", "free", 2),
        ("delta", "de", "standard", 3), ("echo", "us", "enterprise", 4),
    ]  # fmt: skip
    for slug, location, plan, day in rows:
        spec = TenantSpec.create(slug, location, plan)
        live.registry.create_tenant(spec, actor="test", at=T0 + timedelta(days=day))
    live.registry.suspend("delta", actor="test", at=T0 + timedelta(days=5))


def _slugs(http: object, query: str) -> list[str]:
    response = http.get(f"/v1/tenants{query}", headers=auth("reader"))  # type: ignore[attr-defined]
    assert response.status_code == 200, response.text
    return [t["slug"] for t in response.json()["tenants"]]


def test_filters(live: Live) -> None:
    _seed(live)
    with live.client() as http:
        assert _slugs(http, "") == ["alpha", "bravo", "charlie", "delta", "echo"]
        assert _slugs(http, "?state=suspended") == ["delta"]
        assert _slugs(http, "?location=de") == ["alpha", "bravo", "delta"]
        assert _slugs(http, "?location=eu-west-2") == ["charlie"]  # a region names its location
        assert _slugs(http, "?plan=standard&location=de&state=active") == ["bravo"]
        since = "?created_since=2026-03-03T00:00:00Z"  # charlie's instant: at or after
        assert _slugs(http, since) == ["charlie", "delta", "echo"]
        assert _slugs(http, "?created_since=2026-03-02T23:00:01-01:00") == ["delta", "echo"]
        assert _slugs(http, "?created_since=2026-03-03T00:00:01") == ["delta", "echo"]  # UTC
        first = http.get("/v1/tenants?plan=trial", headers=auth("reader")).json()["tenants"][0]
        assert first["status"] == "pending" and first["status_url"] == "/v1/tenants/alpha"


def test_pages_follow_the_cursor_and_never_skip_or_repeat(live: Live) -> None:
    _seed(live)
    seen: list[str] = []
    pages = 0
    with live.client() as http:
        query = "?limit=2"
        while True:
            body = http.get(f"/v1/tenants{query}", headers=auth("reader")).json()
            seen += [t["slug"] for t in body["tenants"]]
            pages += 1
            if pages == 1:  # a signup between pages lands where it sorts, nothing shifts
                live.registry.create_tenant(TenantSpec.create("zulu", "de", "free"), actor="t")
                live.registry.create_tenant(TenantSpec.create("aaron", "de", "free"), actor="t")
            if body["next_cursor"] is None:
                break
            query = f"?limit=2&cursor={body['next_cursor']}"
    assert seen == ["alpha", "bravo", "charlie", "delta", "echo", "zulu"] and pages == 3
    with live.client() as http:
        exact = http.get("/v1/tenants?limit=1&state=suspended", headers=auth("reader")).json()
    assert exact["next_cursor"] is None  # the last page says so, without an empty page after


def test_bad_queries_are_422_and_reading_needs_a_token(live: Live) -> None:
    _seed(live)
    cases = {
        "?state=zombie": "unknown state",
        "?location=mars": "unknown location",
        "?plan=gold": "unknown plan",
        "?created_since=yesterday": "created_since",
        "?cursor=not-a-cursor": "cursor is not valid",
        "?cursor=" + paging.encode_cursor("acme\n"): "cursor is not valid",
        "?limit=0": "limit",
        f"?limit={paging.MAX_LIMIT + 1}": "limit",
    }
    with live.client() as http:
        for query, message in cases.items():
            response = http.get(f"/v1/tenants{query}", headers=auth("reader"))
            assert response.status_code == 422, (query, response.text)
            error = response.json()["error"]
            assert error["code"] == "validation_error" and message in error["message"], query
            assert "--" not in error["message"], query  # no CLI flag names in the API
        assert http.get("/v1/tenants").status_code == 401
        assert http.get("/v1/tenants", headers=auth("billing")).status_code == 403


def test_a_cursor_round_trips_every_valid_slug() -> None:
    for slug in ("abc", "a-b-c", "x" * 40, "acme1"):
        assert paging.decode_cursor(paging.encode_cursor(slug)) == slug
