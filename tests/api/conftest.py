"""The API under a real uvicorn server on 127.0.0.1 (a free port, in a thread), over a registry of
its own on SQLite and (PROVISIONER_TEST_POSTGRES_URL) PostgreSQL."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn

from provisioner.api import Tokens, create_app
from provisioner.registry import Registry
from tests.registry.conftest import db_url  # noqa: F401  (the fixture, reused)

TOKENS = {
    "signup": "s" * 40,  # tenants:write, tenants:read
    "reader": "r" * 40,  # tenants:read
    "billing": "b" * 40,  # billing:write
    "admin": "a" * 40,  # *
}
TOKEN_CONFIG = (
    f"signup:{TOKENS['signup']}:tenants:write,tenants:read;"
    f"reader:{TOKENS['reader']}:tenants:read\n"
    f"billing:{TOKENS['billing']}:billing:write # the billing system\n"
    f"admin:{TOKENS['admin']}:*"
)


def auth(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[name]}"}


@dataclass
class Live:
    url: str
    registry: Registry
    server: uvicorn.Server

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)  # type: ignore[arg-type]


def start(
    registry: Registry, max_body_bytes: int = 16 * 1024, token_config: str = TOKEN_CONFIG
) -> tuple[Live, threading.Thread]:
    app = create_app(registry, Tokens.parse(token_config, "test"), max_body_bytes=max_body_bytes)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    return Live(f"http://127.0.0.1:{port}", registry, server), thread


def stop(live: Live, thread: threading.Thread) -> None:
    live.server.should_exit = True
    thread.join(15)


@pytest.fixture
def live(db_url: str) -> Iterator[Live]:  # noqa: F811
    with Registry.open(db_url) as registry:
        server, thread = start(registry)
        try:
            yield server
        finally:
            stop(server, thread)


SIGNUP = {"slug": "acme", "location": "de", "plan": "trial", "admin_email": "ops@acme.example"}
