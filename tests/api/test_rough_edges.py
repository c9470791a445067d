"""What the outside review found at the API's edges: readiness leaks no address, a body is
judged only after the token, JSON errors say what is wrong, a slug is refused alike on every
database, messages name fields rather than CLI flags, and a backdated event's note is dated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from provisioner.registry import Registry
from provisioner.spec import TenantSpec
from tests.api.conftest import SIGNUP, Live, auth, start, stop

JSON = {"Content-Type": "application/json"}


def test_readyz_names_no_host_or_port(tmp_path: Path) -> None:
    registry = Registry.open("postgresql+psycopg://nobody@127.0.0.1:9/none", migrate=False)
    live, thread = start(registry)
    try:
        with live.client() as http:
            ready = http.get("/readyz")
    finally:
        stop(live, thread)
        registry.close()
    assert ready.status_code == 503
    assert ready.json() == {
        "error": {"code": "not_ready", "message": "the registry is unreachable"}
    }
    assert "127.0.0.1" not in ready.text and "9" not in ready.text


def test_a_bad_body_is_answered_only_after_the_token(live: Live) -> None:
    bad = b'{"slug": x}'
    with live.client() as http:
        anonymous = http.post("/v1/tenants", content=bad, headers=JSON)
        assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == "Bearer"
        wrong = http.post("/v1/tenants", content=bad, headers={**JSON, **auth("reader")})
        assert wrong.status_code == 403
        forged = {**JSON, "Authorization": "Bearer " + "x" * 40}
        assert http.post("/v1/tenants", content=bad, headers=forged).status_code == 401
        invalid = http.post("/v1/tenants", json={"slug": 1}, headers=JSON)  # schema, not syntax
        assert invalid.status_code == 401
        judged = http.post("/v1/tenants", content=bad, headers={**JSON, **auth("signup")})
    assert judged.status_code == 422
    assert judged.json()["error"]["message"] == (
        "the body is not valid JSON: Expecting value at character 9"
    )


def test_json_nested_too_deeply_says_so(live: Live) -> None:
    deep = b"[" * 5000 + b"]" * 5000
    with live.client() as http:
        response = http.post("/v1/tenants", content=deep, headers={**JSON, **auth("signup")})
    assert response.status_code == 422
    assert response.json()["error"]["message"] == "the body is not valid JSON: nested too deeply"


def test_a_slug_with_a_nul_is_refused_the_same_on_every_database(live: Live) -> None:
    with live.client() as http:
        for path in ("/v1/tenants/a%00b", "/v1/tenants/acme%0A", "/v1/tenants/a%00b/events"):
            response = http.get(path, headers=auth("reader"))
            assert response.status_code == 422, (path, response.text)
            assert response.json()["error"]["code"] == "validation_error"


def test_api_messages_name_fields_not_cli_flags(live: Live) -> None:
    with live.client() as http:
        http.post("/v1/tenants", json={**SIGNUP, "plan": "standard"}, headers=auth("signup"))
        response = http.post(
            "/v1/tenants/acme/billing-events",
            json={"kind": "activity", "plan": "free"},
            headers=auth("billing"),
        )
    assert response.status_code == 422
    message = response.json()["error"]["message"]
    assert "plan applies to converted and plan_changed" in message and "--" not in message


def test_a_backdated_payment_failure_gives_the_suspension_date(live: Live) -> None:
    at = datetime.now(UTC) - timedelta(days=20)
    spec = TenantSpec.create("acme", "de", "standard")
    live.registry.create_tenant(spec, actor="t", at=at - timedelta(days=10))
    with live.client() as http:
        response = http.post(
            "/v1/tenants/acme/billing-events",
            json={"kind": "payment_failed", "at": at.isoformat()},
            headers=auth("billing"),
        )
    note = response.json()["note"]
    due = (at + timedelta(days=15)).isoformat().replace("+00:00", "Z")
    assert "in 15 days" not in note and due in note, note


def test_docs_load_nothing_from_a_cdn(live: Live) -> None:
    import re

    with live.client() as http:
        page = http.get("/docs")
        assert page.status_code == 200 and "swagger-ui" in page.text
        assert "cdn" not in page.text.lower() and "https://" not in page.text
        assets = re.findall(r'(?:src|href)="(/docs/static/[^"]+)"', page.text)
        assert {a.rsplit("/", 1)[-1] for a in assets} >= {"swagger-ui-bundle.js", "swagger-ui.css"}
        for asset in assets:
            served = http.get(asset)
            assert served.status_code == 200 and len(served.content) > 1000, asset
        assert http.get("/redoc").status_code == 404  # ReDoc exists only on a CDN
        assert http.get("/openapi.json").json()["openapi"].startswith("3.1")
