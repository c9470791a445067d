"""Webhooks: each observed state change is POSTed, signed, to a real local receiver; failures
are retried with backoff and every attempt is kept in the tenant's delivery log."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from provisioner.errors import UsageError
from provisioner.registry import Registry
from provisioner.registry import webhooks as delivery_log
from provisioner.webhooks import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Dispatcher,
    WebhookConfig,
    body_bytes,
    sign,
    verify,
)
from provisioner.worker import Worker, WorkerSettings
from tests.worker.conftest import PROGRAM, Clock, add_tenants
from tests.worker.engine_double import DoubleEngine

SECRET = "whsec-" + "k" * 26


class Receiver:
    """The signup service's endpoint: answers from a script, keeps what it verified."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.received: list[dict[str, object]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append(
                    {
                        "valid": verify(
                            SECRET,
                            body,
                            self.headers[TIMESTAMP_HEADER],
                            self.headers[SIGNATURE_HEADER],
                            now=float(self.headers[TIMESTAMP_HEADER]),
                        ),
                        "delivery": self.headers[DELIVERY_HEADER],
                        "body": json.loads(body),
                    }
                )
                _answer(self, receiver.statuses.pop(0) if receiver.statuses else 204)

        self.server, self.url = _listen(Handler)


def _answer(handler: BaseHTTPRequestHandler, status: int) -> None:
    handler.send_response(status)
    handler.send_header("Content-Length", "0")
    handler.end_headers()


def _listen(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str]:
    """Serve `handler` on a free local port, quietly, in a thread; returns (server, its URL)."""
    handler.log_message = lambda *args: None  # type: ignore[method-assign]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/hooks"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver([500])
    yield r
    r.server.shutdown()


def test_state_changes_are_delivered_signed_and_retried(
    registry: Registry, engine: DoubleEngine, clock: Clock, receiver: Receiver
) -> None:
    config = WebhookConfig(url=receiver.url, secret=SECRET, retry_base_seconds=10)
    hooks = Dispatcher(registry, config, owner="test", clock=clock, rand=lambda: 1.0)
    settings = WorkerSettings(program_version=PROGRAM, poll_seconds=0.05)
    worker = Worker(registry, engine, settings, webhooks=hooks, clock=clock)
    add_tenants(registry, "acme")
    worker.run(once=True)  # creates the stack, enqueues tenant.ready, first attempt gets 500
    (pending,) = delivery_log.deliveries(registry, "acme")
    assert (pending["status"], pending["attempts"], pending["last_status_code"]) == (
        "pending",
        1,
        500,
    )
    assert hooks.deliver_due() == 0  # backing off (10 s with rand=1.0)
    clock.advance(11)
    assert hooks.deliver_due() == 1
    (done,) = delivery_log.deliveries(registry, "acme")
    assert done["status"] == "delivered" and done["attempts"] == 2
    assert [entry["status_code"] for entry in done["log"]] == [500, 204]
    assert [r["valid"] for r in receiver.received] == [True, True]
    assert {r["delivery"] for r in receiver.received} == {str(done["id"])}
    body = receiver.received[-1]["body"]
    assert body["event"] == "tenant.ready"  # type: ignore[index]
    assert body["tenant"]["slug"] == "acme"  # type: ignore[index]
    assert body["tenant"]["outputs"]["db_password"] == "[secret]"  # type: ignore[index]
    # No change, no webhook: a pass with nothing to do sends nothing new.
    worker.run(once=True)
    assert len(delivery_log.deliveries(registry, "acme")) == 1


def test_a_delivery_that_keeps_failing_is_marked_failed(
    registry: Registry, engine: DoubleEngine, clock: Clock
) -> None:
    config = WebhookConfig(url="http://127.0.0.1:9/nothing-listens", secret=SECRET, max_attempts=2)
    hooks = Dispatcher(registry, config, owner="test", clock=clock)
    worker = Worker(
        registry,
        engine,
        WorkerSettings(program_version=PROGRAM, poll_seconds=0.05),
        webhooks=hooks,
        clock=clock,
    )
    add_tenants(registry, "acme")
    worker.run(once=True)
    clock.advance(3600)
    hooks.deliver_due()
    (failed,) = delivery_log.deliveries(registry, "acme")
    assert failed["status"] == "failed" and failed["attempts"] == 2
    assert "ConnectError" in failed["last_error"]


def test_signatures_refuse_tampering_and_replays() -> None:
    body = body_bytes({"event": "tenant.ready", "tenant": {"slug": "acme"}})
    signature = sign(SECRET, 1_700_000_000, body)
    assert signature.startswith("v1=") and len(signature) == 3 + 64
    assert verify(SECRET, body, "1700000000", signature, now=1_700_000_100)
    assert not verify(SECRET, body + b" ", "1700000000", signature, now=1_700_000_100)
    assert not verify("another-secret-of-length", body, "1700000000", signature, now=1_700_000_100)
    assert not verify(SECRET, body, "1700000001", signature, now=1_700_000_100)
    assert not verify(SECRET, body, "1700000000", signature, now=1_700_000_000 + 301)
    assert not verify(SECRET, body, "yesterday", signature)


def test_retried_tenants_say_retrying_and_each_give_up_sends_a_failed_webhook(
    registry: Registry, engine: DoubleEngine, clock: Clock, receiver: Receiver
) -> None:
    from provisioner.api.models import tenant_view
    from provisioner.registry import outcomes

    receiver.statuses.clear()
    config = WebhookConfig(url=receiver.url, secret=SECRET)
    hooks = Dispatcher(registry, config, owner="t", clock=clock)
    settings = WorkerSettings(program_version=PROGRAM, poll_seconds=0.05, max_attempts=2)
    worker = Worker(registry, engine, settings, webhooks=hooks, clock=clock, rand=lambda: 1.0)
    engine.always_fail.add("acme")
    add_tenants(registry, "acme")

    def status() -> str:
        return str(tenant_view(registry.get_tenant("acme"), clock())["status"])

    def give_up() -> None:
        worker.run(once=True)  # attempt 1 fails; backing off
        assert status() == "retrying"
        clock.advance(3600)
        worker.run(once=True)  # attempt 2 fails: given up
        assert status() == "failed"

    give_up()
    outcomes.retry(registry, "acme", actor="cli:ops", now=clock())
    assert status() == "retrying"  # not "failed" while fresh attempts are due
    give_up()
    hooks.deliver_due()
    events = [r["body"]["event"] for r in receiver.received]  # type: ignore[index]
    assert events == ["tenant.failed", "tenant.failed"]  # the second give-up is announced too
    assert [d["event"] for d in delivery_log.deliveries(registry, "acme")] == events


class PacedReceiver:
    """Holds the request for tenant `slow` until every other tenant's has arrived (bounded by
    `hold_seconds`, so a sequential sender still finishes), and counts requests in flight."""

    def __init__(self, others: int, fail_first: set[int] | None = None) -> None:
        self.others_arrived = threading.Event()
        self.arrivals: list[tuple[str, int]] = []  # (slug, delivery id) in arrival order
        self.slow_overlapped: bool | None = None
        self.in_flight = 0
        self.max_in_flight = 0
        self.fail_first = set(fail_first or ())
        lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                slug, delivery = body["tenant"]["slug"], int(self.headers[DELIVERY_HEADER])
                with lock:
                    receiver.in_flight += 1
                    receiver.max_in_flight = max(receiver.max_in_flight, receiver.in_flight)
                    receiver.arrivals.append((slug, delivery))
                    if sum(1 for s, _ in receiver.arrivals if s != "slow") >= others:
                        receiver.others_arrived.set()
                if slug == "slow":
                    receiver.slow_overlapped = receiver.others_arrived.wait(timeout=5)
                else:
                    threading.Event().wait(0.02)  # a receiver that takes a moment
                status = 200
                with lock:
                    receiver.in_flight -= 1
                    if delivery in receiver.fail_first:
                        receiver.fail_first.discard(delivery)
                        status = 500
                _answer(self, status)

        self.server, self.url = _listen(Handler)


def _announce(registry: Registry, dispatcher: Dispatcher, slugs: list[str], now: object) -> None:
    for slug in slugs:
        tenant = registry.get_tenant(slug)
        with registry.write() as conn:
            dispatcher.enqueue(conn, tenant, now)  # type: ignore[arg-type]


def test_a_slow_receiver_delays_only_its_own_tenant_and_concurrency_is_bounded(
    registry: Registry, clock: Clock
) -> None:
    others = [f"tenant{i}" for i in range(6)]
    add_tenants(registry, "slow", *others)
    receiver = PacedReceiver(others=len(others))
    try:
        config = WebhookConfig(url=receiver.url, secret=SECRET, concurrency=3)
        hooks = Dispatcher(registry, config, owner="t", clock=clock)
        _announce(registry, hooks, ["slow", *others], clock())
        assert hooks.deliver_due() == 7
    finally:
        receiver.server.shutdown()
    # Due first (enqueued first), held by its receiver while every other tenant got theirs.
    assert receiver.slow_overlapped is True
    assert receiver.max_in_flight <= 3
    assert all(d["status"] == "delivered" for d in delivery_log.deliveries(registry, "slow"))


def test_a_tenants_notifications_arrive_in_order_even_when_one_is_retried(
    registry: Registry, clock: Clock
) -> None:
    add_tenants(registry, "acme", "beta")
    receiver = PacedReceiver(others=0)
    try:
        config = WebhookConfig(url=receiver.url, secret=SECRET, retry_base_seconds=10)
        hooks = Dispatcher(registry, config, owner="t", clock=clock, rand=lambda: 1.0)
        _announce(registry, hooks, ["acme", "acme", "beta", "acme"], clock())
        first = delivery_log.deliveries(registry, "acme")[0]["id"]
        receiver.fail_first = {first}
        hooks.deliver_due()  # acme's first fails: its later ones wait; beta's goes out
        acme = delivery_log.deliveries(registry, "acme")
        assert [(d["status"], d["attempts"]) for d in acme] == [
            ("pending", 1), ("pending", 0), ("pending", 0),
        ]  # fmt: skip
        assert sorted(s for s, _ in receiver.arrivals) == ["acme", "beta"]
        clock.advance(11)
        hooks.deliver_due()
    finally:
        receiver.server.shutdown()
    ids = [d["id"] for d in delivery_log.deliveries(registry, "acme")]
    assert [i for s, i in receiver.arrivals if s == "acme"] == [ids[0], *ids]  # in order
    assert all(d["status"] == "delivered" for d in delivery_log.deliveries(registry, "acme"))


def test_a_short_secret_is_named_as_short_and_a_missing_one_as_missing() -> None:
    base = {"PROVISIONER_MAIL_URL": "http://127.0.0.1:1/mail"}
    with pytest.raises(UsageError, match=r"PROVISIONER_MAIL_SECRET is 6 characters long"):
        WebhookConfig.from_env({**base, "PROVISIONER_MAIL_SECRET": "s3cret"}, "PROVISIONER_MAIL")
    with pytest.raises(UsageError, match=r"PROVISIONER_MAIL_SECRET is not set"):
        WebhookConfig.from_env(base, "PROVISIONER_MAIL")
    config = WebhookConfig.from_env({**base, "PROVISIONER_MAIL_SECRET": SECRET}, "PROVISIONER_MAIL")
    assert config is not None and config.secret == SECRET
