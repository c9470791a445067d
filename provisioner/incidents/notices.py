"""Breach notices: drafts rendered from Jinja2 templates (`templates/incident_*.txt.j2`), one per
affected customer or one per jurisdiction's authority, with the facts the law asks for (GDPR
Art. 33(3)): nature, categories and approximate numbers, likely consequences, measures taken,
a contact point. The facts come from the latest `incident assess`; what is not known yet is said
to follow (phased notification, Art. 33(4)).

Pure: the incident, its affected set, its timeline and the contacts in, notices out. A notice's
digest (SHA-256 of subject and body) is what `notify` records when it drafts, and what `--send`
checks: only a notice whose exact text was drafted (and so could be reviewed) is sent.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from provisioner.errors import UsageError
from provisioner.incidents import timeline as tl
from provisioner.incidents.affected import Affected
from provisioner.incidents.chain import Entry

FACT_NAMES = ("nature", "categories", "consequences", "measures")


@dataclass(frozen=True)
class Notice:
    audience: str  # customers, authority:EU
    recipient: str  # the tenant's slug, or the jurisdiction code
    to: str | None  # the customer's contact e-mail; None for an authority (the mail service
    # routes by jurisdiction) or a customer without a contact on record
    subject: str
    body: str

    @property
    def digest(self) -> str:
        return hashlib.sha256(f"{self.subject}\n{self.body}".encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return {
            "audience": self.audience,
            "recipient": self.recipient,
            "to": self.to,
            "subject": self.subject,
            "body": self.body,
            "digest": self.digest,
        }


def parse_audience(value: str, jurisdictions: Sequence[str]) -> str:
    """`customers` or `authority:CODE` for a jurisdiction the incident affects."""
    if value == tl.CUSTOMERS:
        return value
    kind, _, code = value.partition(":")
    if kind == "authority" and code in jurisdictions:
        return f"authority:{code}"
    choices = ", ".join([tl.CUSTOMERS, *(f"authority:{c}" for c in jurisdictions)])
    raise UsageError(f"unknown audience {value!r} for this incident: use one of {choices}")


def facts_of(entries: Sequence[Entry]) -> dict[str, str]:
    """The latest assessment's facts (each field keeps its last non-empty value)."""
    facts = dict.fromkeys(FACT_NAMES, "")
    for entry in entries:
        if entry.kind == tl.ASSESSED:
            for name in FACT_NAMES:
                if entry.data.get(name):
                    facts[name] = str(entry.data[name])
    return facts


@functools.cache
def _environment() -> Any:
    import jinja2

    from provisioner.paths import TEMPLATES_DIR

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=False,  # plain-text mail, not HTML
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )


def _split(text: str) -> tuple[str, str]:
    first, _, rest = text.partition("\n")
    return first.removeprefix("Subject: ").strip(), rest.lstrip("\n")


def render(
    audience: str,
    incident: Mapping[str, Any],
    affected: Sequence[Affected],
    entries: Sequence[Entry],
    *,
    contacts: Mapping[str, str],
    authority: str,
    contact_point: str,
) -> list[Notice]:
    """The notices for `audience`, sorted by recipient."""
    facts = facts_of(entries)
    phased = not all(facts.values())
    env = _environment()
    if audience == tl.CUSTOMERS:
        template = env.get_template("incident_customer.txt.j2")
        notices = []
        for tenant in affected:
            text = template.render(
                incident=incident, tenant=tenant.to_dict(), facts=facts, phased=phased,
                counts={"total": len(affected)}, contact_point=contact_point,
            )  # fmt: skip
            subject, body = _split(text)
            notices.append(
                Notice(audience, tenant.tenant, contacts.get(tenant.tenant), subject, body)
            )
        return notices
    code = audience.split(":", 1)[1]
    mine = [a for a in affected if a.jurisdiction == code]
    text = env.get_template("incident_authority.txt.j2").render(
        incident=incident, jurisdiction=code, authority=authority, facts=facts, phased=phased,
        counts={"total": len(mine), "deleted": sum(1 for a in mine if a.deleted_at)},
        contact_point=contact_point,
    )  # fmt: skip
    subject, body = _split(text)
    return [Notice(audience, code, None, subject, body)]


def payload(incident_id: int, notice: Notice, authority: str) -> dict[str, Any]:
    """What the mail service receives (signed like every webhook)."""
    return {
        "event": "incident.notice",
        "incident": incident_id,
        "audience": notice.audience,
        "recipient": notice.recipient,
        "to": notice.to,
        "authority": authority if notice.audience.startswith("authority:") else None,
        "subject": notice.subject,
        "body": notice.body,
        "digest": notice.digest,
    }
