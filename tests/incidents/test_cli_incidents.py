"""Incidents through the CLI over a registry history built with `--at`: tenants in several
locations, one converted, some deleted before, at the start of, during and after the window,
some created at and just after its end. The affected set and its deadlines are checked at their
boundaries; holds pause deletions and show in `retention plan`; the timeline is append-only
and its chain exposes an altered entry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from provisioner.registry import Registry
from tests.registry.cli_helpers import US, apply, at, ok_json, plan, run

pytestmark = pytest.mark.usefixtures("cli_env")
DAY, HOUR = timedelta(days=1), timedelta(hours=1)
W0 = datetime(2026, 3, 1, tzinfo=UTC)  # the window: 1 to 31 March 2026
W1 = datetime(2026, 3, 31, tzinfo=UTC)
FOUND = datetime(2026, 4, 2, 9, 0, tzinfo=UTC)
TRIAL_LIFE = 26 * DAY  # a 14-day trial is deleted 12 days after it ends


def create(slug: str, location: str, plan_name: str, when: datetime, *extra: str) -> None:
    ok_json("tenants", "create", slug, "--location", location, "--plan", plan_name,
            "--at", at(when), *extra)  # fmt: skip


def build_history() -> None:
    create("gone-before", "de", "trial", W0 - 60 * DAY)  # deleted just before the window
    apply(W0 - US)
    create("gone-at-start", "de", "trial", W0 - TRIAL_LIFE)  # deletion due exactly at W0
    apply(W0)
    create("gone-during", "de", "trial", datetime(2026, 2, 10, tzinfo=UTC))
    create("converted", "de", "trial", datetime(2026, 2, 1, tzinfo=UTC), "--trial-days", "30")
    ok_json("billing", "record", "converted", "converted", "--plan", "standard",
            "--at", at(datetime(2026, 3, 2, tzinfo=UTC)))  # fmt: skip
    apply(datetime(2026, 3, 15, tzinfo=UTC))
    create("gone-after", "de", "trial", datetime(2026, 2, 25, tzinfo=UTC))
    apply(W1 + DAY)
    create("born-at-end", "de", "standard", W1)
    create("born-after", "de", "standard", W1 + US)
    create("irish", "ie", "standard", datetime(2026, 1, 1, tzinfo=UTC))  # backup in Frankfurt
    create("british", "uk", "standard", datetime(2026, 1, 1, tzinfo=UTC))
    create("yankee", "us", "enterprise", datetime(2026, 1, 1, tzinfo=UTC))
    create("indian", "in", "standard", datetime(2026, 1, 1, tzinfo=UTC))


def open_incident(*extra: str, discovered: datetime = FOUND) -> dict[str, Any]:
    return ok_json(  # type: ignore[no-any-return]
        "incident", "open", "--title", "Frankfurt snapshot exposed", "--discovered-at",
        at(discovered),
        "--window-start", at(W0), "--window-end", at(W1), *extra,
    )  # fmt: skip


def test_affected_set_comes_from_history_with_its_boundaries() -> None:
    build_history()
    opened = open_incident("--locations", "de", "--tenants", "yankee")
    affected = {a["tenant"]: a for a in opened["affected"]}
    assert sorted(affected) == [
        "born-at-end", "converted", "gone-after", "gone-at-start", "gone-during", "irish",
        "yankee",
    ]  # fmt: skip
    assert affected["gone-at-start"]["deleted_at"] == at(W0)
    assert affected["gone-during"]["deleted_at"] == at(datetime(2026, 3, 15, tzinfo=UTC))
    assert affected["gone-after"]["deleted_at"] == at(W1 + DAY)
    assert affected["born-at-end"]["deleted_at"] is None
    assert affected["converted"]["plan"] == "standard"
    assert affected["irish"]["why"].startswith("backup copy in eu-central-1")
    assert affected["gone-during"]["why"].startswith("stack in eu-central-1")
    assert affected["yankee"]["why"] == "listed on the incident"
    assert (affected["irish"]["jurisdiction"], affected["yankee"]["jurisdiction"]) == ("EU", "US")

    shown = ok_json("incident", "show", str(opened["id"]), "--at", at(FOUND))
    assert shown["id"] == opened["id"] and shown["discovered_at"] == at(FOUND)
    assert [a["tenant"] for a in shown["affected"]] == sorted(affected)
    assert {d["audience"] for d in shown["deadlines"]} == {
        "customers", "authority:EU", "authority:US"
    }  # fmt: skip
    assert shown["chain"] == {"intact": True, "entries": 1, "first_bad": None, "problem": ""}


def test_the_backup_region_alone_brings_in_tenants_copied_there() -> None:
    create("irish", "ie", "standard", datetime(2026, 1, 1, tzinfo=UTC))
    create("german", "de", "standard", datetime(2026, 1, 1, tzinfo=UTC))
    create("british", "uk", "standard", datetime(2026, 1, 1, tzinfo=UTC))
    opened = open_incident("--regions", "eu-west-1,eu-west-2")
    why = {a["tenant"]: a["why"] for a in opened["affected"]}
    assert why["irish"].startswith("stack in eu-west-1")
    assert why["german"].startswith("backup copy in eu-west-1")
    assert why["british"].endswith("(its air-gapped backup vault too)")


def _deadline(incident: int, when: datetime, audience: str, rule: str) -> dict[str, Any]:
    shown = ok_json("incident", "show", str(incident), "--at", at(when))
    return next(d for d in shown["deadlines"] if (d["audience"], d["rule"]) == (audience, rule))


def test_deadlines_at_their_boundaries_and_the_on_call_view() -> None:
    create("german", "de", "standard", datetime(2026, 1, 1, tzinfo=UTC))
    create("indian", "in", "standard", datetime(2026, 1, 1, tzinfo=UTC))
    incident = open_incident("--locations", "de,in")["id"]
    for audience, rule, due in [
        ("customers", "promise.customers-72h", FOUND + 72 * HOUR),
        ("authority:EU", "eu.gdpr-art33", FOUND + 72 * HOUR),
        ("authority:IN", "in.cert-in-6h", FOUND + 6 * HOUR),
        ("authority:IN", "promise.authority-72h", FOUND + 72 * HOUR),
    ]:
        on_time = _deadline(incident, due, audience, rule)
        assert (on_time["due"], on_time["status"], on_time["left_seconds"]) == (at(due), "open", 0)
        assert _deadline(incident, due + US, audience, rule)["status"] == "overdue"
    shown = ok_json("incident", "show", str(incident), "--at", at(FOUND))
    assert "in.dpdp-rule7-72h" not in {d["rule"] for d in shown["deadlines"]}  # not yet in force
    dues = [d["due"] for d in shown["deadlines"]]
    assert dues == sorted(dues) and shown["deadlines"][0]["rule"] == "in.cert-in-6h"

    # `due`: what falls within the horizon, exit 1 while anything does.
    result = run("incident", "due", "--within", "6h", "--at", at(FOUND), "-o", "json")
    assert result.exit_code == 1
    import json

    due = json.loads(result.stdout)["deadlines"]
    assert [(d["incident"], d["rule"]) for d in due] == [(incident, "in.cert-in-6h")]
    table = run("incident", "due", "--within", "6h", "--at", at(FOUND))
    header, row = (line.split() for line in table.stdout.splitlines()
                   if "in.cert-in-6h" in line or line.split()[:1] == ["incident"])  # fmt: skip
    assert header[0] == "incident" and row[0] == str(incident)  # the table says which one
    quiet = run("incident", "due", "--within", "6h", "--at", at(FOUND - 7 * HOUR))
    assert quiet.exit_code == 0 and "nothing due" in quiet.stdout


def test_a_decision_not_to_notify_is_recorded_with_its_reasoning() -> None:
    create("german", "de", "standard", datetime(2026, 1, 1, tzinfo=UTC))
    incident = str(open_incident("--locations", "de")["id"])
    entry = ok_json("incident", "assess", incident, "--notifiable", "no", "--reason",
                    "encrypted snapshot, key never exposed", "--at", at(FOUND + HOUR))  # fmt: skip
    assert (entry["kind"], entry["text"], entry["data"]) == (
        "assessed", "encrypted snapshot, key never exposed", {"notifiable": False}
    )
    shown = ok_json("incident", "show", incident, "--at", at(FOUND + 80 * HOUR))
    assert {d["status"] for d in shown["deadlines"]} == {"not-required"}
    assert shown["timeline"][-1]["prev_hash"] == shown["timeline"][-2]["hash"]


def test_hold_pauses_a_scheduled_deletion_until_the_incident_closes() -> None:
    trial_start = datetime(2026, 3, 1, tzinfo=UTC)
    create("held", "de", "trial", trial_start)
    create("free-to-go", "uk", "trial", trial_start)
    deletion = trial_start + TRIAL_LIFE
    opened = deletion - DAY  # discovered and opened the day before the deletion falls due
    incident = open_incident(
        "--locations", "de", "--hold", "--at", at(opened), discovered=opened
    )["id"]
    planned = {(a["tenant"], a["action"]): a for a in plan(deletion)}
    assert planned[("held", "delete")]["held_by"] == f"incident {incident}"
    assert "held_by" not in planned[("free-to-go", "delete")]
    applied = {(a["tenant"], a["action"]) for a in apply(deletion)}
    assert ("free-to-go", "delete") in applied and ("held", "delete") not in applied
    assert ("held", "suspend") in applied  # only the deletion waits
    assert ok_json("tenants", "show", "held")["tenant"]["desired_state"] == "suspended"

    ok_json("incident", "close", str(incident), "--root-cause", "public snapshot ACL",
            "--at", at(deletion + DAY))  # fmt: skip
    assert ("held", "delete") in {(a["tenant"], a["action"]) for a in apply(deletion + DAY)}
    kinds = [e["kind"] for e in ok_json("tenants", "show", "held")["events"]]
    assert kinds.index("incident.hold") < kinds.index("incident.release") < kinds.index(
        "retention.delete"
    )
    timeline = ok_json("incident", "show", str(incident))["timeline"]
    assert [e["kind"] for e in timeline] == ["opened", "hold", "release", "closed"]
    refused = run("incident", "note", str(incident), "too late")
    assert refused.exit_code == 2 and "closed" in refused.stderr


def test_the_timeline_is_append_only_and_an_altered_entry_is_detected(
    cli_env: str,
) -> None:
    create("german", "de", "standard", datetime(2026, 1, 1, tzinfo=UTC))
    incident = str(open_incident("--locations", "de")["id"])
    ok_json("incident", "note", incident, "contained: snapshot made private")
    assert run("incident", "verify", incident).exit_code == 0
    with Registry.open(cli_env) as reg:
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), reg.write() as conn:
            conn.exec_driver_sql("UPDATE incident_entries SET text = 'nothing happened'")
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), reg.write() as conn:
            conn.exec_driver_sql("DELETE FROM incident_entries")
        # Someone with the database owner's rights drops the trigger and edits an entry.
        with reg.write() as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql(
                    "ALTER TABLE incident_entries DISABLE TRIGGER incident_entries_append_only"
                )
            else:
                conn.exec_driver_sql("DROP TRIGGER incident_entries_no_update")
            conn.exec_driver_sql(
                "UPDATE incident_entries SET text = 'nothing happened' WHERE seq = 2"
            )
    result = run("incident", "verify", incident, "-o", "json")
    assert result.exit_code == 1
    import json

    assert json.loads(result.stdout)["first_bad"] == 2
    assert ok_json("incident", "show", incident)["chain"]["intact"] is False


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--discovered-at", "2026-04-02"), "say what is affected"),
        (("--discovered-at", "yesterday", "--locations", "de"), "--discovered-at"),
        (("--discovered-at", "2026-04-02", "--locations", "mars"), "unknown location"),
        (("--discovered-at", "2026-04-02", "--regions", "eu-south-1"), "holds no tenant data"),
        (("--discovered-at", "2026-04-02", "--tenants", "nobody"), "no tenant 'nobody'"),
        (("--discovered-at", "2026-04-02", "--locations", "de", "--kind", "leak"), "--kind"),
        (("--discovered-at", "2026-04-02", "--locations", "de", "--window-start",
          "2026-05-01"), "after the window's end"),
        (("--discovered-at", "2999-04-02", "--locations", "de"), "after the incident is opened"),
        (("--discovered-at", "2026-04-02T09:00Z", "--locations", "de", "--at",
          "2026-04-02T08:59Z"), "after the incident is opened"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_changes_nothing(args: tuple[str, ...], message: str) -> None:
    result = run("incident", "open", "--title", "x", *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert ok_json("incident", "list")["incidents"] == []
    assert run("incident", "show", "1").exit_code == 2
