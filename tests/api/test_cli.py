"""`provisioner serve` and `provisioner worker` as real processes: on the default SQLite registry
in the data directory with nothing else configured, and on PostgreSQL by URL."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import SIGNUP, TOKEN_CONFIG, TOKENS, auth

PROVISIONER = str(Path(sys.executable).parent / "provisioner")


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVISIONER_")}
    env.update(PROVISIONER_HOME=str(tmp_path / "home"), PATH=os.environ.get("PATH", ""))
    env.update(extra)
    return env


def _serve(
    env: dict[str, str], *args: str, stdout: int | None = None
) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [PROVISIONER, "serve", "--port", "0", *args],
        env=env,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        found = re.search(r"on (http://127\.0\.0\.1:\d+)", line)
        if found:
            return process, found.group(1)
        if not line and process.poll() is not None:
            break
    process.kill()
    raise AssertionError("provisioner serve did not start")


def _signup_and_work(tmp_path: Path, env: dict[str, str], *db_args: str) -> None:
    server, url = _serve(env, *db_args)
    try:
        with httpx.Client(base_url=url, timeout=10) as http:
            assert http.get("/readyz").json() == {"status": "ok"}
            created = http.post("/v1/tenants", json=SIGNUP, headers=auth("signup"))
            assert created.status_code == 202, created.text
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(15)
    worker = subprocess.run(
        [PROVISIONER, "worker", "--once", "-o", "json", *db_args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert worker.returncode == 0, worker.stderr
    # No Pulumi CLI here: the attempt is recorded as failed, with how to fix it, and backed off.
    assert json.loads(worker.stdout)["retried"] == 1
    assert "Pulumi CLI is not installed" in worker.stderr
    show_env = {**env, "PROVISIONER_DATABASE_URL": db_args[1]} if db_args else env
    shown = subprocess.run(
        [PROVISIONER, "tenants", "show", "acme", "-o", "json"],
        env=show_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    tenant = json.loads(shown.stdout)
    tenant = tenant.get("tenant", tenant)
    assert tenant["attempts"] == 1 and "pulumi.com/docs/install" in tenant["last_error"]


def test_serve_and_worker_on_the_default_sqlite_registry(tmp_path: Path) -> None:
    env = _env(tmp_path, PROVISIONER_API_TOKENS=TOKEN_CONFIG)
    _signup_and_work(tmp_path, env)
    assert (tmp_path / "home" / "registry.db").exists()


def test_serve_and_worker_on_postgresql_by_url(db_url: str, tmp_path: Path) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("the default SQLite registry is the test above")
    env = _env(tmp_path, PROVISIONER_API_TOKENS=TOKEN_CONFIG)
    _signup_and_work(tmp_path, env, "--database-url", db_url)
    assert not (tmp_path / "home" / "registry.db").exists()


def test_serve_without_tokens_refuses_to_start(tmp_path: Path) -> None:
    result = subprocess.run(
        [PROVISIONER, "serve", "--port", "0"],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: no API tokens configured")
    assert len(result.stderr.strip().splitlines()) == 1


def test_credentials_in_urls_never_reach_the_logs(tmp_path: Path) -> None:
    """A token sent in the query string (or a header-like value in the path) is masked in the
    access log and the error log alike; the request itself is still answered."""
    env = _env(tmp_path, PROVISIONER_API_TOKENS=TOKEN_CONFIG)
    server, url = _serve(env, stdout=subprocess.PIPE)
    secret = TOKENS["signup"]
    try:
        with httpx.Client(base_url=url, timeout=10) as http:
            created = http.post(
                f"/v1/tenants?access_token={secret}", json=SIGNUP, headers=auth("signup")
            )
            assert created.status_code == 202, created.text
            unauth = http.get(f"/v1/tenants/acme?api_key={secret}&x=1")
            assert unauth.status_code == 401
            odd = http.get(f"/v1/tenants/Bearer%20{secret}", headers=auth("reader"))
            assert odd.status_code == 422  # not a slug
    finally:
        server.send_signal(signal.SIGTERM)
        stdout, stderr = server.communicate(timeout=15)
    logs = stdout + stderr
    assert logs.count("/v1/tenants?[redacted]") == 1, logs  # the access log kept the line
    assert "/v1/tenants/acme?[redacted]" in logs and "/v1/tenants/Bearer%20[redacted]" in logs
    assert secret not in logs


def test_the_log_filter_masks_messages_and_tracebacks() -> None:
    import logging

    from provisioner.redaction import RedactingFilter

    try:
        raise RuntimeError("upstream said: Authorization: Bearer sekrit123 for ?token=sekrit123")
    except RuntimeError:
        record = logging.LogRecord(
            "provisioner.api", logging.ERROR, __file__, 1,
            "failed on %s with header %s", ("/v1/x?password=sekrit123", "Bearer sekrit123"),
            sys.exc_info(),
        )  # fmt: skip
    assert RedactingFilter().filter(record)
    assert "sekrit123" not in logging.Formatter().format(record)
    access = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "POST", "/v1/tenants?access_token=sekrit123", "1.1", 202), None,
    )  # fmt: skip
    RedactingFilter().filter(access)
    assert access.getMessage() == '127.0.0.1:5 - "POST /v1/tenants?[redacted] HTTP/1.1" 202'
