"""Fixtures for the live-audit tests: moto's AWS server on 127.0.0.1, real HTTP, real boto3.

The server starts once per session on a free port; each test gets a fresh account (moto's
reset endpoint) and fake credentials. boto3 reaches the server through AWS_ENDPOINT_URL, as the
product does in production for any endpoint override.
"""

from __future__ import annotations

import itertools
import logging
import urllib.request
from collections.abc import Iterator

import pytest
from moto.server import ThreadedMotoServer

from provisioner.audit.clients import Clients

from .builder import Built, build_tenant, stub_selection
from .stubs import BackupStubs

logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    reset = urllib.request.Request(f"http://{host}:{port}/moto-api/reset", method="POST")
    urllib.request.urlopen(reset).read()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws(moto_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path) -> str:
    """moto's account behind AWS_ENDPOINT_URL, with fake credentials.

    The account is not reset between tests (moto rebuilds every regional backend after a reset,
    about a second per test): each test uses its own tenant slug instead, and everything the
    audit reads is selected by that slug.
    """
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("PROVISIONER_HOME", str(tmp_path / "home"))
    return moto_url


@pytest.fixture
def stubs() -> BackupStubs:
    return BackupStubs()


@pytest.fixture
def clients(aws: str, stubs: BackupStubs) -> Clients:
    """The product's client factory, with Stubbers on backup clients for what moto lacks."""
    return Clients(on_new_client=stubs.attach)


_slugs = itertools.count(1)


@pytest.fixture
def slug() -> str:
    """A tenant slug no other test in this session uses."""
    return f"acme{next(_slugs):03d}"


@pytest.fixture
def tenant(aws: str, stubs: BackupStubs, slug: str) -> Built:
    """A compliant tenant in `de` (eu-central-1, backups copied to eu-west-1)."""
    built = build_tenant(slug, "de")
    stub_selection(stubs, built)
    return built
