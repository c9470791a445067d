"""Billing events: one at a time (`billing record`) or a file of them (`billing import`).

A billing event moves the tenant's lifecycle (lifecycle.billing_event), is kept as a billing
record (7 years, apart from tenant data; `activity` is usage, not billing data, and is not) and
is appended to the tenant's audit trail. An import is all or nothing: the first bad line rolls
back every line before it, and the error names the line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from provisioner import lifecycle
from provisioner.errors import ExternalIdReused, UsageError
from provisioner.registry.core import RegistryCore, _aware, to_billing, to_tenant
from provisioner.registry.models import billing_records
from provisioner.registry.records import BillingRecord, BillingResult


class BillingOps(RegistryCore):
    def record_billing_event(
        self,
        slug: str,
        kind: str,
        *,
        actor: str,
        at: datetime | None = None,
        plan: str | None = None,
        data: dict[str, Any] | None = None,
        external_id: str | None = None,
        source: str = "cli",
    ) -> BillingResult:
        """Record one billing event (lifecycle.BILLING_EVENTS) that took effect at `at`."""
        with self.write() as conn:
            return self._billing(conn, slug, kind, actor, at, plan, data, external_id, source)

    def import_billing(
        self, lines: Iterable[str], *, actor: str, source: str = "import", name: str = "input"
    ) -> list[BillingResult]:
        """Import newline-delimited JSON events, all or nothing, in one transaction.

        Each line: {"tenant": SLUG, "event": KIND, "at": ISO, "plan"?: P, "id"?: EXTERNAL_ID,
        "data"?: {...}}. A line whose `id` was already imported is skipped (re-running an import
        is safe). Blank lines are ignored.
        """
        from provisioner.cli.common import parse_at

        results: list[BillingResult] = []
        with self.write() as conn:
            for number, text in enumerate(lines, start=1):
                if not text.strip():
                    continue
                where = f"{name}:{number}"
                try:
                    item = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise UsageError(
                        f"{where}: not JSON ({exc.msg}); nothing was imported"
                    ) from exc
                if not isinstance(item, dict):
                    raise UsageError(f"{where}: expected a JSON object; nothing was imported")
                unknown = set(item) - {"tenant", "event", "at", "plan", "id", "data"}
                if unknown:
                    names = ", ".join(sorted(unknown))
                    raise UsageError(f"{where}: unknown field(s) {names}; nothing was imported")
                try:
                    for key in ("tenant", "event", "at"):
                        if not isinstance(item.get(key), str):
                            raise UsageError(f"field {key!r} must be a string")
                    if "data" in item and not isinstance(item["data"], dict):
                        raise UsageError("field 'data' must be an object")
                    results.append(
                        self._billing(
                            conn,
                            item["tenant"],
                            item["event"],
                            actor,
                            parse_at(item["at"], "at"),
                            item.get("plan"),
                            item.get("data"),
                            None if item.get("id") is None else str(item["id"]),
                            source,
                        )
                    )
                except UsageError as exc:
                    raise type(exc)(f"{where}: {exc}; nothing was imported") from exc
        return results

    def billing_records(self, slug: str | None = None) -> list[BillingRecord]:
        """Billing records (of one tenant, or all), oldest first."""
        query = sa.select(billing_records).order_by(
            billing_records.c.occurred_at, billing_records.c.id
        )
        if slug is not None:
            query = query.where(billing_records.c.slug == slug)
        with self.read() as conn:
            return [to_billing(r) for r in conn.execute(query)]

    def _billing(
        self,
        conn: sa.Connection,
        slug: str,
        kind: str,
        actor: str,
        at: datetime | None,
        plan: str | None,
        data: dict[str, Any] | None,
        external_id: str | None,
        source: str,
    ) -> BillingResult:
        if kind not in lifecycle.BILLING_EVENTS:
            raise UsageError(
                f"unknown billing event {kind!r}: use one of {', '.join(lifecycle.BILLING_EVENTS)}"
            )
        when = _aware(at) if at else self._clock()
        row = self._lock(conn, slug)
        if external_id is not None:
            seen = conn.execute(
                sa.select(billing_records).where(billing_records.c.external_id == external_id)
            ).one_or_none()
            if seen is not None:
                stored = to_billing(seen)
                _check_same_event(stored, slug, kind, when if at else None, plan, data)
                return BillingResult(
                    to_tenant(row), stored, f"already recorded ({external_id})", True
                )
        row, facts = self._settle(conn, row, when, f"record {kind} for")
        new, note = lifecycle.billing_event(facts, kind, when, plan)
        tenant = self._save_facts(conn, row, new)
        record = None
        if kind in lifecycle.BILLING_DATA_EVENTS:
            values: dict[str, Any] = {
                "slug": slug,
                "kind": kind,
                "occurred_at": when,
                "recorded_at": self._clock(),
                "plan": new.plan,
                "external_id": external_id,
                "source": source,
                "data": data,
            }
            new_id = conn.execute(sa.insert(billing_records).values(**values)).inserted_primary_key
            assert new_id is not None
            record = BillingRecord(id=new_id[0], **values)
        self._event(
            conn,
            row,
            f"billing.{kind}",
            when,
            actor,
            note,
            {
                "plan": new.plan,
                "desired_state": new.state,
                "billing_record": record.id if record else None,
                "source": source,
            },
        )
        return BillingResult(tenant, record, note)


def _check_same_event(
    stored: BillingRecord,
    slug: str,
    kind: str,
    at: datetime | None,
    plan: str | None,
    data: dict[str, Any] | None,
) -> None:
    """A replay of a recorded event is answered with the record; an external id reused for a
    different event is refused, or that event (a cancellation after a conversion) would be lost.
    `at` and `plan` count only when given: a retry without them asks for the same defaults."""
    differ = [
        name
        for name, same in (
            ("tenant", stored.slug == slug),
            ("event", stored.kind == kind),
            ("at", at is None or stored.occurred_at == at),
            ("plan", plan is None or stored.plan == plan.strip().lower()),
            ("data", (data or None) == (stored.data or None)),
        )
        if not same
    ]
    if differ:
        raise ExternalIdReused(
            f"external id {stored.external_id!r} was recorded for another event ({stored.kind} of"
            f" {stored.slug} at {stored.occurred_at.isoformat()}; this one differs in"
            f" {', '.join(differ)}): give each billing event its own id"
        )
