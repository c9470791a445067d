"""Authentication, scopes, and the one error shape for everything that goes wrong: unknown
routes, wrong methods, bad JSON, oversized bodies (declared or streamed)."""

from __future__ import annotations

import logging

import pytest

from provisioner.api.auth import Tokens
from provisioner.errors import UsageError
from tests.api.conftest import SIGNUP, TOKENS, Live, auth


def test_requests_without_a_valid_token_get_401(live: Live) -> None:
    with live.client() as http:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic eDp5"}):
            response = http.get("/v1/tenants/acme", headers=headers)
            assert response.status_code == 401, headers
            assert response.json()["error"]["code"] == "unauthorized"
            assert response.headers["www-authenticate"] == "Bearer"


def test_a_token_without_the_scope_gets_403(live: Live) -> None:
    with live.client() as http:
        response = http.post("/v1/tenants", json=SIGNUP, headers=auth("reader"))
        assert response.status_code == 403
        assert response.json()["error"] == {
            "code": "forbidden",
            "message": "this token lacks the tenants:write scope",
        }
        billing = http.post(
            "/v1/tenants/acme/billing-events", json={"kind": "activity"}, headers=auth("signup")
        )
        assert billing.status_code == 403
        assert http.post("/v1/tenants", json=SIGNUP, headers=auth("admin")).status_code == 202
    assert [t.slug for t in live.registry.list_tenants()] == ["acme"]


def test_tokens_never_reach_the_logs(live: Live, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with live.client() as http:
        http.post("/v1/tenants", json=SIGNUP, headers=auth("signup"))
        http.get("/v1/tenants/acme", headers={"Authorization": "Bearer not-a-token-at-all"})
    assert all(token not in caplog.text for token in TOKENS.values())
    assert "not-a-token-at-all" not in caplog.text


def test_unknown_routes_and_methods_answer_json_errors(live: Live) -> None:
    with live.client() as http:
        missing = http.get("/nowhere")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
        wrong = http.put("/v1/tenants", headers=auth("admin"))
        assert wrong.status_code == 405
        assert wrong.json()["error"]["code"] == "method_not_allowed"
        assert wrong.headers["allow"] == "GET, POST"  # both methods served at this path
        unknown = http.get("/v1/tenants/nobody", headers=auth("reader"))
        assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "tenant_not_found"


def test_malformed_bodies_are_422(live: Live) -> None:
    with live.client() as http:
        for content in (b"{not json", b"[]", b"null", b'{"slug": 5}'):
            response = http.post(
                "/v1/tenants",
                content=content,
                headers={**auth("signup"), "Content-Type": "application/json"},
            )
            assert response.status_code == 422, content
            assert response.json()["error"]["code"] == "validation_error"


def test_bodies_over_the_limit_are_413(live: Live) -> None:
    big = {**SIGNUP, "admin_email": "x" * 20_000 + "@example.com"}
    with live.client() as http:
        declared = http.post("/v1/tenants", json=big, headers=auth("signup"))
        assert declared.status_code == 413
        assert declared.json()["error"]["code"] == "payload_too_large"

        def chunks():  # no Content-Length: Transfer-Encoding chunked
            for _ in range(40):
                yield b"x" * 1024

        streamed = http.post("/v1/tenants", content=chunks(), headers=auth("signup"))
        assert streamed.status_code == 413
    assert live.registry.list_tenants() == []


def test_token_configuration_is_validated() -> None:
    good = Tokens.parse("signup:" + "t" * 32 + ":tenants:write,tenants:read", "env")
    caller = good.authenticate("t" * 32)
    assert caller is not None and caller.name == "signup" and caller.allows("tenants:read")
    assert not caller.allows("billing:write")
    assert good.authenticate("t" * 31) is None
    for text, reason in (
        ("signup:short:tenants:read", "shorter than 32"),
        ("signup:" + "t" * 32 + ":tenants:delete", "unknown scope"),
        ("just-a-token", "NAME:TOKEN:SCOPE"),
        ("a:" + "t" * 32 + ":*;a:" + "u" * 32 + ":*", "used twice"),
    ):
        with pytest.raises(UsageError, match=reason):
            Tokens.parse(text, "env")
    with pytest.raises(UsageError, match="no API tokens configured"):
        Tokens.load(env={})


def test_values_no_database_can_keep_are_422_not_500(live: Live) -> None:
    with live.client() as http:
        assert http.post("/v1/tenants", json=SIGNUP, headers=auth("admin")).status_code == 202
        bad_bodies = [
            ("/v1/tenants", {**SIGNUP, "slug": "globex", "admin_email": "a\x00b@c.io"}),
            ("/v1/tenants/acme/billing-events", {"kind": "activity", "external_id": "x\x00"}),
            ("/v1/tenants/acme/billing-events", {"kind": "activity", "data": {"k": "v\x00"}}),
            ("/v1/tenants/acme/billing-events", {"kind": "activity", "at": "9999-12-31T00:00:00Z"}),
        ]
        for path, body in bad_bodies:
            response = http.post(path, json=body, headers=auth("admin"))
            assert response.status_code == 422, (body, response.text)
        nan = http.post(
            "/v1/tenants/acme/billing-events",
            content=b'{"kind": "activity", "data": {"x": NaN}}',
            headers={**auth("admin"), "Content-Type": "application/json"},
        )
        assert nan.status_code == 422, nan.text
    assert [t.slug for t in live.registry.list_tenants()] == ["acme"]
