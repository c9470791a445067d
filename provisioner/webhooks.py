"""Webhooks to the signup service: one POST per observed state change of a tenant.

Each request carries the JSON body and two headers (names are lowercase-insensitive):

    Provisioner-Timestamp: 1764300000                 (Unix seconds when it was signed)
    Provisioner-Signature: v1=<hex HMAC-SHA256 of "<timestamp>.<body>" under the shared secret>
    Provisioner-Delivery: 42                          (the delivery's id: dedupe retries on it)

A receiver recomputes the HMAC over the raw body bytes, compares in constant time, and refuses
a timestamp older than a few minutes (replays): `verify()` below does exactly that. Deliveries
are retried with exponential backoff and jitter until a 2xx answer or `max_attempts`; each attempt
is kept in the tenant's delivery log (`GET /v1/tenants/{slug}/webhook-deliveries`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from provisioner import reconcile
from provisioner.errors import UsageError
from provisioner.redaction import redact
from provisioner.retention import iso

if TYPE_CHECKING:
    from provisioner.registry import Registry, Tenant

log = logging.getLogger("provisioner.webhooks")

SIGNATURE_HEADER = "Provisioner-Signature"
TIMESTAMP_HEADER = "Provisioner-Timestamp"
DELIVERY_HEADER = "Provisioner-Delivery"
DEFAULT_TOLERANCE_SECONDS = 300  # a signed request older than 5 minutes is a replay


def body_bytes(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent (and signed): compact, sorted JSON."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value for `body` sent at `timestamp`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"v1={mac.hexdigest()}"


def verify(
    secret: str,
    body: bytes,
    timestamp: str,
    signature: str,
    *,
    now: float | None = None,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> bool:
    """True if `signature` is ours for `body` at `timestamp`, and the timestamp is recent."""
    try:
        sent = int(timestamp)
    except (TypeError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - sent) > tolerance_seconds:
        return False
    return hmac.compare_digest(sign(secret, sent, body), signature.strip())


@dataclass(frozen=True)
class WebhookConfig:
    """Where and how to notify the signup service."""

    url: str
    secret: str
    max_attempts: int = 8  # then the delivery is marked failed (kept in the log)
    retry_base_seconds: float = 10.0
    retry_cap_seconds: float = 3600.0
    timeout_seconds: float = 10.0
    lease_seconds: float = 60.0
    concurrency: int = 8  # deliveries in flight at once (one per tenant: order kept per tenant)

    @classmethod
    def from_env(
        cls, env: dict[str, str] | None = None, prefix: str = "PROVISIONER_WEBHOOK"
    ) -> WebhookConfig | None:
        """{prefix}_URL and {prefix}_SECRET (the signup service's by default; incident notices
        use PROVISIONER_MAIL for the mail service); None when no URL is set."""
        env = dict(os.environ if env is None else env)
        url = env.get(f"{prefix}_URL", "").strip()
        if not url:
            return None
        if not url.startswith(("https://", "http://")):
            raise UsageError(f"{prefix}_URL {url!r} must be an http(s) URL")
        secret = env.get(f"{prefix}_SECRET", "")
        if len(secret) < 16:
            # Say which of the two it is: an operator who set a short secret reads "must be set"
            # as a wrong variable name.
            problem = f"is {len(secret)} characters long" if secret else "is not set"
            raise UsageError(
                f"{prefix}_SECRET {problem}: give 16+ characters when {prefix}_URL is set (the"
                " receiver verifies signatures with it)"
            )
        raw = env.get("PROVISIONER_WEBHOOK_CONCURRENCY", "").strip() or "8"
        if not raw.isdigit() or not 1 <= int(raw) <= 64:
            raise UsageError(f"PROVISIONER_WEBHOOK_CONCURRENCY {raw!r} must be a number, 1-64")
        return cls(url=url, secret=secret, concurrency=int(raw))


def payload_for(tenant: Tenant, now: datetime) -> tuple[str, dict[str, Any]]:
    """The event name and body announcing `tenant`'s current state."""
    status = reconcile.status_of(tenant, now)
    event = f"tenant.{status}"
    return event, {
        "event": event,
        "occurred_at": iso(now),
        "tenant": {
            "desired_state": tenant.desired_state,
            "generation": tenant.generation,
            "last_error": tenant.last_error,
            "location": tenant.location,
            "observed_state": tenant.observed_state,
            "outputs": tenant.outputs or {},
            "plan": tenant.plan,
            "region": tenant.region,
            "slug": tenant.slug,
            "status": status,
        },
    }


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Dispatcher:
    """Enqueues deliveries (inside the worker's transactions) and sends those that are due."""

    def __init__(
        self,
        registry: Registry,
        config: WebhookConfig,
        *,
        owner: str,
        client: Any = None,  # an httpx.Client; tests pass one with a MockTransport or a server
        clock: Callable[[], datetime] = _utcnow,
        rand: Callable[[], float] = random.random,
        batch: int = 20,
    ) -> None:
        import httpx

        self.registry = registry
        self.config = config
        self.owner = owner
        self._client = client or httpx.Client(timeout=config.timeout_seconds)
        self._clock = clock
        self._rand = rand
        self._batch = batch

    def enqueue(self, conn: Any, tenant: Tenant, now: datetime) -> int:
        from provisioner.registry import webhooks as log_table

        event, payload = payload_for(tenant, now)
        return log_table.enqueue(
            conn, slug=tenant.slug, event=event, url=self.config.url, payload=payload, now=now
        )

    def deliver_due(self, max_rounds: int = 10) -> int:
        """Send the due deliveries, up to `config.concurrency` at once, one per tenant at a time:
        a receiver that times out for one tenant holds up only that tenant's next notification.
        Claims again while rounds deliver (a tenant's next one is due right after); returns how
        many attempts were made."""
        from concurrent.futures import ThreadPoolExecutor

        from provisioner.registry import webhooks as log_table

        attempted = 0
        workers = max(1, self.config.concurrency)
        with ThreadPoolExecutor(workers, thread_name_prefix="webhook") as pool:
            for _ in range(max_rounds):
                try:
                    due = log_table.claim_due(
                        self.registry,
                        self.owner,
                        now=self._clock(),
                        limit=max(self._batch, workers),
                        lease_seconds=self.config.lease_seconds,
                        # Only what was addressed to this endpoint: it is signed with its secret.
                        url=self.config.url,
                    )
                except Exception as exc:  # the registry is unreachable: the next round retries
                    log.warning("cannot read due webhooks: %s", exc)
                    break
                if not due:
                    break
                outcomes = list(pool.map(self._send, due))
                attempted += len(due)
                if log_table.DELIVERED not in outcomes:
                    break  # all failing: their retries are backing off
        return attempted

    def _send(self, delivery: Any) -> str:
        from provisioner.registry import webhooks as log_table

        body = body_bytes(delivery.payload)
        stamp = int(self._clock().timestamp())
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: str(stamp),
            SIGNATURE_HEADER: sign(self.config.secret, stamp, body),
            DELIVERY_HEADER: str(delivery.id),
            "User-Agent": "provisioner-webhooks/1",
        }
        started = time.monotonic()
        status_code: int | None = None
        error: str | None = None
        try:
            response = self._client.post(delivery.url, content=body, headers=headers)
            status_code = response.status_code
            if not 200 <= status_code < 300:
                error = f"HTTP {status_code}"
        except Exception as exc:  # connection refused, timeout, TLS: all retried
            error = redact(f"{type(exc).__name__}: {exc}")  # kept and logged: no URL secrets
        elapsed = (time.monotonic() - started) * 1000
        attempt = delivery.attempts + 1
        retry_at = None
        if error is not None and attempt < self.config.max_attempts:
            delay = reconcile.retry_delay(
                attempt,
                base=self.config.retry_base_seconds,
                cap=self.config.retry_cap_seconds,
                rand=self._rand,
            )
            retry_at = self._clock() + timedelta(seconds=delay)
        status = log_table.record_attempt(
            self.registry,
            delivery,
            now=self._clock(),
            status_code=status_code,
            error=error,
            elapsed_ms=elapsed,
            delivered=error is None,
            retry_at=retry_at,
        )
        if error is not None:
            log.warning(
                "webhook %s (%s) attempt %d: %s; %s",
                delivery.id,
                delivery.slug,
                attempt,
                error,
                status,
            )
        return status
