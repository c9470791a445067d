"""Sending reviewed notices through the signed-webhook delivery (provisioner.webhooks) to the
vendor's mail service (`PROVISIONER_MAIL_URL`, `PROVISIONER_MAIL_SECRET`).

Each notice becomes one delivery in the webhook delivery log (slug `incident-<id>`), enqueued
in the transaction that writes its `notice.sent` entry; a dispatcher for the mail endpoint then
sends what is due, and every outcome goes on the timeline (`notice.delivered`, or
`notice.failed` with the retry time). Sending again never sends a notice twice: a recipient
whose notice is on the timeline already is skipped, and only pending retries go out.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from provisioner.errors import UsageError
from provisioner.incidents import timeline as tl
from provisioner.incidents.chain import Entry
from provisioner.incidents.notices import Notice, payload

if TYPE_CHECKING:
    from provisioner.registry import Registry
    from provisioner.webhooks import WebhookConfig


@dataclass(frozen=True)
class SendResult:
    sent: tuple[str, ...]  # recipients enqueued now
    skipped: tuple[str, ...]  # already sent earlier
    no_contact: tuple[str, ...]  # customers without a contact on record
    outcomes: tuple[dict[str, Any], ...]  # per delivery: recipient, status, status code

    def to_dict(self) -> dict[str, Any]:
        return {
            "sent": list(self.sent),
            "skipped": list(self.skipped),
            "no_contact": list(self.no_contact),
            "deliveries": list(self.outcomes),
        }


def mail_config() -> WebhookConfig:
    from provisioner.webhooks import WebhookConfig

    config = WebhookConfig.from_env(prefix="PROVISIONER_MAIL")
    if config is None:
        raise UsageError(
            "set PROVISIONER_MAIL_URL (the mail service's endpoint) and PROVISIONER_MAIL_SECRET"
            " (16+ characters, shared with it) to send notices"
        )
    return config


def log_slug(incident_id: int) -> str:
    return f"incident-{incident_id}"


def require_drafted(entries: Sequence[Entry], notices: Sequence[Notice]) -> None:
    """Refuse to send a notice whose exact text was never drafted (reviewed) on the timeline."""
    drafted = {
        digest
        for entry in entries
        if entry.kind == tl.DRAFTED
        for digest in entry.data.get("digests", {}).values()
    }
    missing = [n.recipient for n in notices if n.digest not in drafted]
    if missing:
        raise UsageError(
            f"notice(s) for {', '.join(missing)} differ from any reviewed draft: run the same"
            " `incident notify` without --send, review the text, then send"
        )


def send(
    registry: Registry,
    incident_id: int,
    notices: Sequence[Notice],
    *,
    authority: str,
    config: WebhookConfig,
    actor: str,
    client: Any = None,
) -> SendResult:
    from provisioner.registry import incidents as store
    from provisioner.registry import webhooks as delivery_log
    from provisioner.webhooks import Dispatcher

    entries = store.entries(registry, incident_id)
    already = {
        (e.data.get("audience"), e.data.get("recipient")) for e in entries if e.kind == tl.SENT
    }
    sent, skipped, no_contact = [], [], []
    for notice in notices:
        key = (notice.audience, notice.recipient)
        if key in already:
            skipped.append(notice.recipient)
            continue
        if notice.audience == tl.CUSTOMERS and notice.to is None:
            no_contact.append(notice.recipient)
            if (tl.NO_CONTACT, notice.recipient) not in {
                (e.kind, e.data.get("recipient")) for e in entries
            }:
                store.append(
                    registry, incident_id, tl.NO_CONTACT, actor=actor,
                    text=f"no notice contact on record for {notice.recipient}",
                    data={"audience": notice.audience, "recipient": notice.recipient,
                          "tenant": notice.recipient},
                )  # fmt: skip
            continue
        with registry.write() as conn:
            now = registry._clock()
            delivery = delivery_log.enqueue(
                conn, slug=log_slug(incident_id), event="incident.notice", url=config.url,
                payload=payload(incident_id, notice, authority), now=now,
            )  # fmt: skip
            from provisioner.registry.bound import bound

            store.append(
                bound(registry, conn), incident_id, tl.SENT, actor=actor, at=now,
                text=notice.subject,
                data={"audience": notice.audience, "recipient": notice.recipient,
                      "tenant": notice.recipient if notice.audience == tl.CUSTOMERS else None,
                      "delivery": delivery, "digest": notice.digest},
            )  # fmt: skip
        sent.append(notice.recipient)
    owner = f"incident:{socket.gethostname()}"
    Dispatcher(registry, config, owner=owner, client=client).deliver_due()
    outcomes = record_outcomes(registry, incident_id, actor)
    return SendResult(tuple(sent), tuple(skipped), tuple(no_contact), tuple(outcomes))


def record_outcomes(registry: Registry, incident_id: int, actor: str) -> list[dict[str, Any]]:
    """Put each delivery's new outcome on the timeline (once per attempt); returns them all."""
    from provisioner.registry import incidents as store
    from provisioner.registry import webhooks as delivery_log

    entries = store.entries(registry, incident_id)
    by_delivery = {e.data.get("delivery"): e for e in entries if e.kind == tl.SENT}
    logged = {
        (e.data.get("delivery"), e.data.get("attempts"))
        for e in entries
        if e.kind in (tl.DELIVERED, tl.FAILED)
    }
    out = []
    for row in delivery_log.deliveries(registry, log_slug(incident_id)):
        sent = by_delivery.get(row["id"])
        if sent is None:
            continue
        outcome = {
            "delivery": row["id"], "audience": sent.data["audience"],
            "recipient": sent.data["recipient"], "tenant": sent.data.get("tenant"),
            "status": row["status"], "attempts": row["attempts"],
            "status_code": row["last_status_code"], "error": row["last_error"],
            "next_attempt_at": row["next_attempt_at"],
        }  # fmt: skip
        out.append(outcome)
        if row["attempts"] == 0 or (row["id"], row["attempts"]) in logged:
            continue
        kind = tl.DELIVERED if row["status"] == "delivered" else tl.FAILED
        at = _parse(row["delivered_at"]) if kind == tl.DELIVERED else None
        store.append(
            registry, incident_id, kind, actor=actor, at=at,
            text=f"{sent.data['recipient']}: {row['status']}"
            + (f" ({row['last_error']})" if row["last_error"] else ""),
            data=outcome,
        )  # fmt: skip
    return out


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None
