"""`provisioner incident open|list|show|assess|note|notify|close|due|verify`: breaches and other
incidents, who they affect, every legal clock they start, and who has been told what.

The CLI parses and renders; the affected set, the deadlines and the notices are computed in
`provisioner/incidents/`, and the registry keeps the incident and its hash-chained timeline.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import typer

from provisioner.cli._registry import actor, open_registry, print_table
from provisioner.cli.common import OUTPUT_OPTION, OutputFormat, emit_json, parse_at
from provisioner.errors import EXIT_FAILED, EnvironmentProblem, UsageError

if TYPE_CHECKING:
    from provisioner.registry import Registry
    from provisioner.registry.incidents import Incident

app = typer.Typer(
    help="Incidents: who is affected, every notification deadline, notices and the timeline.",
    no_args_is_help=True,
)

ID_ARGUMENT = typer.Argument(..., help="The incident's id (`provisioner incident list`).")
AT_OPTION = typer.Option(
    None, "--at", help="When it took effect (ISO 8601, UTC if no zone); default now."
)
_DURATION_RE = re.compile(r"([0-9]+) *([mhd])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
_YES_NO = {"yes": True, "no": False}


def _iso(value: datetime | None) -> str:
    from provisioner.retention import iso

    return iso(value) if value else ""


def _csv(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _yes_no(value: str, option: str) -> bool:
    try:
        return _YES_NO[value.strip().lower()]
    except KeyError:
        raise UsageError(f"{option} {value!r}: answer yes or no") from None


def parse_within(value: str) -> timedelta:
    """`12h`, `30m`, `2d`."""
    match = _DURATION_RE.fullmatch(value.strip().lower())
    if not match:
        raise UsageError(f"--within {value!r}: give a duration such as 30m, 12h or 2d")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def _affected_regions(locations: list[str], regions: list[str]) -> tuple[str, ...]:
    from provisioner.regions import catalogue

    cat = catalogue()
    known = {loc.region for loc in cat.locations.values()} | {
        loc.backup.region for loc in cat.locations.values()
    }
    out = {cat.resolve(code).region for code in locations}
    for region in regions:
        if region not in known:
            raise UsageError(
                f"--regions: {region!r} holds no tenant data: use one of {', '.join(sorted(known))}"
            )
        out.add(region)
    return tuple(sorted(out))


@app.command("open")
def open_(
    title: str = typer.Option(..., "--title", help="What happened, in one line."),
    discovered_at: str = typer.Option(
        ..., "--discovered-at", help="When the breach was discovered (ISO 8601): starts the clocks."
    ),
    locations: str | None = typer.Option(
        None, "--locations", help="Affected signup locations, comma-separated (de,ie)."
    ),
    regions: str | None = typer.Option(
        None, "--regions", help="Affected AWS regions, comma-separated (eu-central-1)."
    ),
    window_start: str | None = typer.Option(
        None, "--window-start", help="Earliest instant of exposure (default: unknown)."
    ),
    window_end: str | None = typer.Option(
        None, "--window-end", help="Latest instant of exposure (default: the discovery)."
    ),
    tenants: str | None = typer.Option(
        None, "--tenants", help="Tenants affected whatever their region, comma-separated."
    ),
    kind: str = typer.Option("breach", "--kind", help="breach, outage or other."),
    hold: bool = typer.Option(
        False, "--hold", help="Pause scheduled deletions of affected tenants while it is open."
    ),
    audit: bool = typer.Option(
        False, "--audit", help="Snapshot the live audit of each affected tenant (needs AWS)."
    ),
    at: str | None = AT_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Open an incident; its affected tenants come from the registry's history."""
    from provisioner.regions import catalogue
    from provisioner.registry import incidents as store
    from provisioner.spec import validate_slug

    if kind not in store.KINDS:
        raise UsageError(f"--kind {kind!r}: use one of {', '.join(store.KINDS)}")
    if not title.strip():
        raise UsageError("--title must say what happened")
    discovered = parse_at(discovered_at, "--discovered-at")
    start = parse_at(window_start, "--window-start") if window_start else None
    end = parse_at(window_end, "--window-end") if window_end else discovered
    if start is not None and start > end:
        raise UsageError(
            f"--window-start {_iso(start)} is after the window's end {_iso(end)}"
        )
    listed = _csv(tenants)
    for slug in listed:
        validate_slug(slug)
    affected_regions = _affected_regions(_csv(locations), _csv(regions))
    if not affected_regions and not listed:
        raise UsageError("say what is affected: --locations, --regions or --tenants")
    new = store.NewIncident(
        title.strip(), kind, discovered, affected_regions, tuple(sorted(set(listed))),
        start, end, hold,
    )  # fmt: skip
    who = actor()
    with open_registry() as reg:
        incident, found = store.open_incident(
            reg, new, catalogue(), actor=who, at=parse_at(at) if at else None
        )
        audits = _snapshot_audits(reg, incident, found, who) if audit else []
    if output == OutputFormat.json:
        emit_json({**incident.to_dict(), "affected": [a.to_dict() for a in found],
                   "audits": audits})  # fmt: skip
        return
    typer.echo(f"incident {incident.id} opened: {len(found)} tenant(s) affected")
    _print_affected([a.to_dict() for a in found])
    for line in audits:
        typer.echo(f"audit {line['tenant']}: {line['result']}")


def _snapshot_audits(
    reg: Registry, incident: Incident, found: list[Any], who: str
) -> list[dict[str, Any]]:
    """Each affected tenant's live audit (a deletion proof for a deleted one) onto the timeline;
    stops at the first sign AWS is unreachable and records why."""
    from provisioner.audit.batch import audit_one
    from provisioner.audit.model import Target
    from provisioner.cli.common import stderr_console
    from provisioner.incidents import timeline as tl
    from provisioner.regions import catalogue
    from provisioner.registry import incidents as store

    results: list[dict[str, Any]] = []
    console = stderr_console()
    sweep = list(incident.regions) or None
    for index, tenant in enumerate(found, start=1):
        console.print(f"[{index}/{len(found)}] auditing {tenant.tenant}", highlight=False)
        target = Target(tenant.tenant, catalogue().resolve(tenant.location))
        try:
            report = audit_one(
                target, deleted=tenant.deleted_at is not None, sweep=sweep, at=parse_at(None)
            )
        except EnvironmentProblem as exc:
            store.append(reg, incident.id, tl.AUDIT_UNAVAILABLE, actor=who, text=str(exc),
                         data={"tenants": [a.tenant for a in found[index - 1:]]})  # fmt: skip
            results.append({"tenant": tenant.tenant, "result": f"unavailable: {exc}"})
            break
        verdict = "pass" if report["passed"] else "findings"
        store.append(reg, incident.id, tl.AUDIT, actor=who, text=f"{tenant.tenant}: {verdict}",
                     data={"tenant": tenant.tenant, "report": report})  # fmt: skip
        results.append({"tenant": tenant.tenant, "result": verdict})
    return results


def _print_affected(affected: list[dict[str, Any]]) -> None:
    rows = (
        (a["tenant"], a["location"], a["jurisdiction"], a["plan"], a["deleted_at"], a["why"])
        for a in affected
    )
    print_table(
        "affected", ("tenant", "location", "jurisdiction", "plan", "deleted", "why"), rows
    )


def _left(seconds: int | None) -> str:
    if seconds is None:
        return ""
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m"


def _print_deadlines(deadlines: list[dict[str, Any]], title: str = "deadlines") -> None:
    # `due` lists several incidents' deadlines together: there each row names its incident, or
    # an on-call engineer cannot tell which one to act on.
    several = any("incident" in d for d in deadlines)
    columns = (("incident",) if several else ()) + ("due", "left", "status", "audience", "rule")
    rows = (
        ((d["incident"],) if several else ())
        + (d["due"] or "-", _left(d["left_seconds"]), d["status"], d["audience"], d["rule"])
        for d in deadlines
    )
    print_table(title, columns, rows)


@app.command("list")
def list_(
    status: str | None = typer.Option(None, "--status", help="open or closed."),
    at: str | None = typer.Option(None, "--at", help="Evaluate deadlines at (default now)."),
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Incidents, with how many tenants each affects and its soonest open deadline."""
    from provisioner.incidents.view import summary
    from provisioner.registry import incidents as store

    now = parse_at(at)
    with open_registry() as reg:
        rows = [summary(reg, inc, now) for inc in store.list_incidents(reg, status)]
    if output == OutputFormat.json:
        emit_json({"incidents": rows})
        return
    print_table(
        "incidents",
        ("id", "status", "kind", "discovered", "affected", "next deadline", "title"),
        (
            (r["id"], r["status"], r["kind"], r["discovered_at"], r["affected"],
             (r["next_deadline"] or {}).get("due", ""), r["title"])
            for r in rows
        ),
    )  # fmt: skip


@app.command("show")
def show(
    incident_id: int = ID_ARGUMENT,
    at: str | None = typer.Option(None, "--at", help="Evaluate deadlines at (default now)."),
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """The incident: affected tenants, deadlines soonest first with the time left, timeline."""
    from provisioner.incidents.view import document

    with open_registry() as reg:
        doc = document(reg, incident_id, parse_at(at))
    if output == OutputFormat.json:
        emit_json(doc)
        return
    typer.echo(
        f"incident {doc['id']} ({doc['kind']}, {doc['status']}): {doc['title']}\n"
        f"discovered {doc['discovered_at']}; window {doc['window_start'] or 'unknown'} to"
        f" {doc['window_end']}; regions {', '.join(doc['regions']) or '-'}"
    )
    _print_affected(doc["affected"])
    _print_deadlines(doc["deadlines"])
    rows = ((e["seq"], e["at"], e["kind"], e["actor"], e["text"]) for e in doc["timeline"])
    print_table("timeline", ("#", "at", "kind", "actor", "text"), rows)
    chain = doc["chain"]
    typer.echo("timeline intact" if chain["intact"] else f"TIMELINE ALTERED: {chain['problem']}")


@app.command("assess")
def assess(
    incident_id: int = ID_ARGUMENT,
    notifiable: str = typer.Option(..., "--notifiable", help="yes or no."),
    reason: str = typer.Option(..., "--reason", help="Why: kept on the timeline for regulators."),
    material: str | None = typer.Option(
        None, "--material", help="yes/no: the materiality determination (SEC registrants)."
    ),
    nature: str | None = typer.Option(None, "--nature", help="Nature of the breach."),
    categories: str | None = typer.Option(
        None, "--categories", help="Categories of data and approximate numbers concerned."
    ),
    consequences: str | None = typer.Option(None, "--consequences", help="Likely consequences."),
    measures: str | None = typer.Option(None, "--measures", help="Measures taken or proposed."),
    at: str | None = AT_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Record whether the incident is notifiable, and why (a decision not to notify too)."""
    from provisioner.incidents import timeline as tl
    from provisioner.registry import incidents as store

    if not reason.strip():
        raise UsageError("--reason must say why: regulators expect the reasoning on record")
    data: dict[str, Any] = {"notifiable": _yes_no(notifiable, "--notifiable")}
    if material is not None:
        data["material"] = _yes_no(material, "--material")
    for name, value in (("nature", nature), ("categories", categories),
                        ("consequences", consequences), ("measures", measures)):  # fmt: skip
        if value:
            data[name] = value.strip()
    with open_registry() as reg:
        entry = store.append(
            reg, incident_id, tl.ASSESSED, actor=actor(), at=parse_at(at) if at else None,
            text=reason.strip(), data=data,
        )  # fmt: skip
    _emit_entry(entry, output)


def _emit_entry(entry: Any, output: OutputFormat) -> None:
    if output == OutputFormat.json:
        emit_json(entry.to_dict())
    else:
        typer.echo(f"#{entry.seq} {entry.kind} at {_iso(entry.at)}: {entry.text}")


@app.command("note")
def note(
    incident_id: int = ID_ARGUMENT,
    text: str = typer.Argument(..., help="What to record."),
    at: str | None = AT_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Append a note to the timeline."""
    from provisioner.incidents import timeline as tl
    from provisioner.registry import incidents as store

    if not text.strip():
        raise UsageError("the note is empty")
    with open_registry() as reg:
        entry = store.append(
            reg, incident_id, tl.NOTE, actor=actor(), at=parse_at(at) if at else None,
            text=text.strip(),
        )  # fmt: skip
    _emit_entry(entry, output)


@app.command("notify")
def notify(
    incident_id: int = ID_ARGUMENT,
    audience: str = typer.Option(
        ..., "--audience", help="customers, or authority:JURISDICTION (authority:EU)."
    ),
    send: bool = typer.Option(
        False, "--send", help="Send the reviewed drafts (without it: draft and show them)."
    ),
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Draft the notices for an audience (recorded on the timeline); --send sends them."""
    import os

    from provisioner.incidents import notices as notices_mod
    from provisioner.incidents import sending
    from provisioner.incidents import timeline as tl
    from provisioner.incidents.rules import rulebook
    from provisioner.registry import incidents as store

    contact_point = os.environ.get("PROVISIONER_INCIDENT_CONTACT", "").strip()
    if not contact_point:
        raise UsageError(
            "set PROVISIONER_INCIDENT_CONTACT to the contact point notices name (e.g."
            " 'security@vendor.example, +44 20 0000 0000'): the law requires one"
        )
    config = sending.mail_config() if send else None
    who = actor()
    with open_registry() as reg:
        incident = store.get_incident(reg, incident_id)
        entries = store.entries(reg, incident_id)
        found = tl.affected_of(entries)
        chosen = notices_mod.parse_audience(audience, sorted({a.jurisdiction for a in found}))
        code = chosen.partition(":")[2]
        authority = rulebook().authority(code) if code else ""
        now = reg._clock()
        contacts = store.contacts(reg, [a.tenant for a in found], now)
        drafts = notices_mod.render(
            chosen, incident.to_dict(), found, entries, contacts=contacts, authority=authority,
            contact_point=contact_point,
        )  # fmt: skip
        if not send:
            store.append(
                reg, incident_id, tl.DRAFTED, actor=who,
                text=f"{len(drafts)} notice(s) drafted for {chosen}",
                data={"audience": chosen, "digests": {n.recipient: n.digest for n in drafts},
                      "no_contact": [n.recipient for n in drafts
                                     if chosen == tl.CUSTOMERS and n.to is None]},
            )  # fmt: skip
            _show_drafts(drafts, output)
            return
        assert config is not None
        sending.require_drafted(entries, drafts)
        result = sending.send(
            reg, incident_id, drafts, authority=authority, config=config, actor=who
        )
    if output == OutputFormat.json:
        emit_json(result.to_dict())
    else:
        columns = ("recipient", "status", "attempts", "HTTP", "error", "retry at")
        rows = (
            (o["recipient"], o["status"], o["attempts"], o["status_code"] or "",
             o["error"] or "", o["next_attempt_at"] or "")
            for o in result.outcomes
        )  # fmt: skip
        print_table(f"notices to {chosen}", columns, rows)
        if result.no_contact:
            typer.echo(f"no contact on record: {', '.join(result.no_contact)}")
    failed = [o for o in result.outcomes if o["status"] != "delivered"]
    if failed or result.no_contact:
        raise typer.Exit(code=EXIT_FAILED)


def _show_drafts(drafts: list[Any], output: OutputFormat) -> None:
    if output == OutputFormat.json:
        emit_json({"drafts": [n.to_dict() for n in drafts]})
        return
    for notice in drafts:
        to = notice.to or (
            "(routed by the mail service)" if notice.audience != "customers"
            else "(NO CONTACT ON RECORD)"
        )  # fmt: skip
        typer.echo(f"--- {notice.audience} / {notice.recipient} -> {to}")
        typer.echo(f"Subject: {notice.subject}\n\n{notice.body}")
    typer.echo("review the text above, then send it with --send")


@app.command("close")
def close(
    incident_id: int = ID_ARGUMENT,
    root_cause: str = typer.Option(..., "--root-cause", help="What caused it (the analysis)."),
    at: str | None = AT_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Close the incident with its root cause; its holds are released."""
    from provisioner.registry import incidents as store

    with open_registry() as reg:
        incident = store.close_incident(
            reg, incident_id, root_cause.strip(), actor=actor(), at=parse_at(at) if at else None
        )
    if output == OutputFormat.json:
        emit_json(incident.to_dict())
    else:
        typer.echo(f"incident {incident.id} closed at {_iso(incident.closed_at)}")


@app.command("due")
def due(
    within: str = typer.Option("12h", "--within", help="Horizon: 30m, 12h, 2d."),
    at: str | None = typer.Option(None, "--at", help="Evaluate at (default now)."),
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Deadlines of open incidents that are overdue or due within the horizon, soonest first.
    Exit 1 when there is any (for an on-call schedule), 0 when there is none."""
    from provisioner.incidents.view import incident_deadlines
    from provisioner.registry import incidents as store
    from provisioner.retention import iso

    horizon = parse_within(within)
    now = parse_at(at)
    found: list[dict[str, Any]] = []
    with open_registry() as reg:
        for incident in store.list_incidents(reg, store.OPEN):
            entries = store.entries(reg, incident.id)
            for d in incident_deadlines(incident, entries, now):
                if d.status in ("open", "overdue") and d.due is not None and d.due <= now + horizon:
                    found.append({"incident": incident.id, **d.to_dict()})
    found.sort(key=lambda d: (d["due"], d["incident"], d["audience"], d["rule"]))
    if output == OutputFormat.json:
        emit_json({"at": iso(now), "within": within, "deadlines": found})
    elif found:
        _print_deadlines(found, f"due by {iso(now + horizon)}")
    else:
        typer.echo(f"nothing due by {iso(now + horizon)}")
    if found:
        raise typer.Exit(code=EXIT_FAILED)


@app.command("verify")
def verify(incident_id: int = ID_ARGUMENT, output: OutputFormat = OUTPUT_OPTION) -> None:
    """Recompute the timeline's hash chain; exit 1 if any entry was altered."""
    from provisioner.incidents.chain import verify as verify_chain
    from provisioner.registry import incidents as store

    with open_registry() as reg:
        verdict = verify_chain(incident_id, store.entries(reg, incident_id))
    if output == OutputFormat.json:
        emit_json(verdict.to_dict())
    else:
        typer.echo(
            f"timeline intact ({verdict.entries} entries)" if verdict.intact
            else f"TIMELINE ALTERED: {verdict.problem}"
        )  # fmt: skip
    if not verdict.intact:
        raise typer.Exit(code=EXIT_FAILED)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="incident")
