"""The registry commands through the CLI: what they print, and that bad input exits 2 with one
line on stderr and changes nothing (bad dates, unknown events, unknown tenants, illegal
transitions, bad imports), on each database."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from provisioner.registry import Registry
from tests.registry.cli_helpers import at, ok_json, run, snapshot
from tests.registry.conftest import T0, point_cli_at

DAY = timedelta(days=1)


def everything(url: str) -> dict[str, Any]:
    """The whole registry, to prove a refused command left it untouched."""
    with Registry.open(url) as reg:
        tenants = reg.list_tenants()
        return {
            "tenants": [t.to_dict() for t in tenants],
            "events": {t.slug: [e.to_dict() for e in reg.events(t.slug)] for t in tenants},
            "billing": [r.to_dict() for r in reg.billing_records()],
        }


SEEDED = T0 + 92 * DAY  # when the seeded registry stands as below
NOW = SEEDED + DAY  # the instant the refused commands are given (`--at`)
_TAKES_AT = {("billing", "record"), ("tenants", "create"), ("tenants", "suspend"),
             ("tenants", "resume"), ("retention", "plan"), ("retention", "apply")}  # fmt: skip


@pytest.fixture(scope="module")
def seeded_db(module_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A tombstone (goneco), then a trial, a free tenant under an operator's hold, a paid one.

    Shared by the refusal tests: each proves it changed nothing, so they cannot disturb
    each other (and a test that did change something fails itself)."""
    with pytest.MonkeyPatch.context() as mp:
        point_cli_at(module_db_url, mp, tmp_path_factory.mktemp("home"))
        _seed()
    return module_db_url


@pytest.fixture
def seeded(seeded_db: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    point_cli_at(seeded_db, monkeypatch, tmp_path / "home")
    return seeded_db


def _seed() -> None:
    ok_json("tenants", "create", "goneco", "-l", "de", "-p", "standard", "--at", at(T0))
    ok_json("billing", "record", "goneco", "cancelled", "--at", at(T0 + DAY))
    ok_json("retention", "apply", "--at", at(SEEDED))
    for slug, plan in (("trialco", "trial"), ("freeco", "free"), ("paidco", "standard")):
        ok_json("tenants", "create", slug, "-l", "de", "-p", plan, "--at", at(SEEDED))
    ok_json("tenants", "suspend", "freeco", "--at", at(SEEDED), "--reason", "abuse report")
    assert snapshot("goneco")["tenant"]["desired_state"] == "deleted"


BILL = ["billing", "record"]
NEW = ["tenants", "create", "newco", "-l", "de", "-p"]
REFUSED: list[tuple[str, list[str], str]] = [
    ("bad date", ["retention", "apply", "--at", "2026-02-30"], "--at"),
    ("bad date on record", [*BILL, "paidco", "activity", "--at", "yesterday"], "--at"),
    ("bad date on create", [*NEW, "free", "--at", "x"], "--at"),
    ("unknown event", ["billing", "record", "paidco", "refunded"], "unknown billing event"),
    ("unknown tenant", ["billing", "record", "nosuch", "activity"], "no tenant 'nosuch'"),
    ("unknown tenant show", ["tenants", "show", "nosuch"], "no tenant 'nosuch'"),
    ("unknown tenant suspend", ["tenants", "suspend", "nosuch"], "no tenant 'nosuch'"),
    ("resume active", ["tenants", "resume", "paidco"], "only a suspended tenant"),
    ("suspend suspended", ["tenants", "suspend", "freeco"], "only an active tenant"),
    ("suspend closed/deleted", ["tenants", "suspend", "goneco"], "tombstone"),
    ("billing on tombstone", ["billing", "record", "goneco", "activity"], "tombstone"),
    ("convert paid", ["billing", "record", "paidco", "converted"], "already on a paid plan"),
    ("cancel free", ["billing", "record", "freeco", "cancelled"], "not paid"),
    ("recover without failure", ["billing", "record", "paidco", "payment_recovered"], "no failed"),
    ("plan_changed without plan", ["billing", "record", "paidco", "plan_changed"], "--plan"),
    ("plan_changed to same", ["billing", "record", "paidco", "plan_changed", "--plan", "standard"],
     "already on standard"),
    ("unknown plan", [*BILL, "paidco", "plan_changed", "--plan", "gold"], "unknown plan"),
    ("event before the last change", [*BILL, "paidco", "activity", "--at", at(SEEDED - DAY)],
     "time order"),
    ("duplicate slug", ["tenants", "create", "goneco", "-l", "de", "-p", "free"], "never reused"),
    ("bad slug", ["tenants", "create", "Bad_Slug", "-l", "de", "-p", "free"], "slug"),
    ("slug with a newline", ["tenants", "create", "nlco\n", "-l", "de", "-p", "trial"], "slug"),
    ("slug with a NUL", ["tenants", "create", "nl\x00co", "-l", "de", "-p", "trial"], "slug"),
    ("slug, Cyrillic a", ["tenants", "create", "\u0430cme", "-l", "de", "-p", "trial"], "slug"),
    ("bad location", ["tenants", "create", "newco", "-l", "mars", "-p", "free"], "mars"),
    ("bad plan", ["tenants", "create", "newco", "-l", "de", "-p", "gold"], "unknown plan"),
    ("trial days on paid", ["tenants", "create", "newco", "-l", "de", "-p", "standard",
                            "--trial-days", "3"], "trial plan only"),
    ("bad state filter", ["tenants", "list", "--state", "zombie"], "unknown state"),
    ("negative upcoming", ["retention", "plan", "--upcoming", "-1"], "--upcoming"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "args", "message"), REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_exits_2_with_one_line_and_changes_nothing(
    seeded: str, name: str, args: list[str], message: str
) -> None:
    before = everything(seeded)
    if tuple(args[:2]) in _TAKES_AT and "--at" not in args:
        args = [*args, "--at", at(NOW)]
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert everything(seeded) == before


def test_create_show_list(cli_env: str) -> None:
    created = ok_json("tenants", "create", "acme", "-l", "eu-central-1", "-p", "trial",
                      "--trial-days", "30", "--at", "2026-01-01T09:30:00+01:00")  # fmt: skip
    assert created["location"] == "de" and created["region"] == "eu-central-1"
    assert created["created_at"] == "2026-01-01T08:30:00Z"  # stored and shown in UTC
    assert created["trial_ends_at"] == "2026-01-31T08:30:00Z"
    assert created["desired_state"] == "active" and created["observed_state"] is None
    shown = snapshot("acme")
    assert shown["tenant"] == created
    assert [e["kind"] for e in shown["events"]] == ["created"]
    assert shown["events"][0]["actor"] == "test:operator"
    assert [a["action"] for a in shown["retention"]] == ["suspend", "delete"]
    ok_json("tenants", "create", "beta", "-l", "uk", "-p", "free", "--at", at(T0))
    listed = ok_json("tenants", "list")["tenants"]
    assert [t["slug"] for t in listed] == ["acme", "beta"]
    assert [t["slug"] for t in ok_json("tenants", "list", "-l", "uk")["tenants"]] == ["beta"]
    assert ok_json("tenants", "list", "--state", "suspended")["tenants"] == []
    table = run("tenants", "list")
    assert table.exit_code == 0 and "acme" in table.stdout and "beta" in table.stdout


def test_list_filters_and_database_url(
    cli_env: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ok_json("tenants", "create", "acme", "-l", "de", "-p", "trial", "--at", "2026-01-01")
    ok_json("tenants", "create", "beta", "-l", "uk", "-p", "standard", "--at", "2026-01-05")
    ok_json("tenants", "create", "gamma", "-l", "de", "-p", "standard", "--at", "2026-01-09")
    # Like `serve` and `worker`: the registry by URL, whatever the environment says.
    monkeypatch.setenv("PROVISIONER_DATABASE_URL", f"sqlite:///{tmp_path / 'other.db'}")
    url = ("--database-url", cli_env)

    def slugs(*args: str) -> list[str]:
        return [t["slug"] for t in ok_json("tenants", "list", *url, *args)["tenants"]]

    assert slugs() == ["acme", "beta", "gamma"]
    assert slugs("--plan", "standard") == ["beta", "gamma"]
    assert slugs("--plan", "standard", "-l", "de") == ["gamma"]
    assert slugs("--created-since", "2026-01-05") == ["beta", "gamma"]
    assert slugs("--created-since", "2026-01-05T00:00:01Z") == ["gamma"]
    assert ok_json("tenants", "list")["tenants"] == []  # the environment's (empty) registry
    for args, message in (
        (("--plan", "gold"), "unknown plan"),
        (("--created-since", "soon"), "--created-since"),
    ):
        result = run("tenants", "list", *url, *args)
        assert result.exit_code == 2 and message in result.stderr, result.output


def test_operator_suspend_and_resume_leave_an_audit_trail(cli_env: str) -> None:
    ok_json("tenants", "create", "acme", "-l", "de", "-p", "standard", "--at", at(T0))
    s = ok_json("tenants", "suspend", "acme", "--at", at(T0 + DAY), "--reason", "abuse report")
    assert s["desired_state"] == "suspended" and s["suspended_by"] == "operator"
    assert s["generation"] == 2
    r = ok_json("tenants", "resume", "acme", "--at", at(T0 + 2 * DAY), "--reason", "cleared")
    assert r["desired_state"] == "active" and r["generation"] == 3
    events = snapshot("acme")["events"]
    assert [(e["kind"], e["reason"]) for e in events] == [
        ("created", ""), ("suspended", "abuse report"), ("resumed", "cleared"),
    ]  # fmt: skip


def test_resume_refused_while_a_rule_keeps_the_tenant_suspended(cli_env: str) -> None:
    ok_json("tenants", "create", "acme", "-l", "de", "-p", "trial", "--at", at(T0))
    ok_json("retention", "apply", "--at", at(T0 + 15 * DAY))
    result = run("tenants", "resume", "acme", "--at", at(T0 + 16 * DAY))
    assert result.exit_code == 2 and "trial-ended" in result.stderr
    converted = ok_json("billing", "record", "acme", "converted", "--at", at(T0 + 16 * DAY))
    assert converted["tenant"]["desired_state"] == "active"
    assert converted["tenant"]["plan"] == "standard"


def test_billing_import_is_all_or_nothing_and_skips_duplicates(
    cli_env: str, tmp_path: Path
) -> None:
    for slug in ("acme", "beta"):
        ok_json("tenants", "create", slug, "-l", "de", "-p", "standard", "--at", at(T0))
    lines = [
        {"tenant": "acme", "event": "payment_failed", "at": "2026-02-01", "id": "inv-1"},
        {"tenant": "beta", "event": "plan_changed", "at": "2026-02-02", "plan": "enterprise",
         "id": "chg-1", "data": {"amount": 120}},
        {"tenant": "acme", "event": "activity", "at": "2026-02-03"},
    ]  # fmt: skip
    good = tmp_path / "events.ndjson"
    good.write_text("\n".join(json.dumps(x) for x in lines) + "\n\n")
    bad = tmp_path / "bad.ndjson"
    bad.write_text(good.read_text() + json.dumps({"tenant": "nosuch", "event": "activity",
                                                  "at": "2026-02-04"}) + "\n")  # fmt: skip
    before = everything(cli_env)
    result = run("billing", "import", str(bad))
    assert result.exit_code == 2 and "bad.ndjson:5" in result.stderr
    assert everything(cli_env) == before
    assert ok_json("billing", "import", str(good)) == {"imported": 3, "duplicates": 0}
    # `activity` (no id) is not billing data and moves only the clock; ids make re-runs safe.
    again = tmp_path / "again.ndjson"
    again.write_text("\n".join(json.dumps(x) for x in lines[:2]) + "\n")
    assert ok_json("billing", "import", str(again)) == {"imported": 0, "duplicates": 2}
    with Registry.open(cli_env) as reg:
        records = reg.billing_records()
    assert [(r.slug, r.kind, r.external_id) for r in records] == [
        ("acme", "payment_failed", "inv-1"), ("beta", "plan_changed", "chg-1"),
    ]  # fmt: skip
    assert records[1].data == {"amount": 120}
    assert snapshot("beta")["tenant"]["plan"] == "enterprise"


def test_billing_id_reused_for_another_event_exits_2_and_records_nothing(
    cli_env: str, tmp_path: Path
) -> None:
    ok_json("tenants", "create", "acme", "-l", "de", "-p", "standard", "--at", at(T0))
    first = ok_json("billing", "record", "acme", "payment_failed", "--at", "2026-02-01",
                    "--id", "INV-1")  # fmt: skip
    replay = ok_json("billing", "record", "acme", "payment_failed", "--at", "2026-02-01",
                     "--id", "INV-1")  # fmt: skip
    assert replay["duplicate"] is True and replay["billing_record"] == first["billing_record"]
    before = everything(cli_env)
    result = run("billing", "record", "acme", "cancelled", "--at", "2026-02-02", "--id", "INV-1")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert "INV-1" in result.stderr and "event, at" in result.stderr
    lines = tmp_path / "events.ndjson"
    lines.write_text(json.dumps({"tenant": "acme", "event": "cancelled", "at": "2026-02-02",
                                 "id": "INV-1"}) + "\n")  # fmt: skip
    imported = run("billing", "import", str(lines))
    assert imported.exit_code == 2 and "events.ndjson:1" in imported.stderr
    assert everything(cli_env) == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json\n", "not JSON"),
        ('["a list"]\n', "JSON object"),
        ('{"tenant": "acme", "event": "activity", "at": "2026-02-01", "x": 1}\n', "unknown field"),
        ('{"tenant": "acme", "event": "activity"}\n', "'at'"),
        ('{"tenant": "acme", "event": "activity", "at": "soon"}\n', "ISO 8601"),
        ('{"tenant": "acme", "event": "teleport", "at": "2026-02-01"}\n', "unknown billing event"),
    ],
)
def test_billing_import_bad_lines(cli_env: str, tmp_path: Path, content: str, message: str) -> None:
    ok_json("tenants", "create", "acme", "-l", "de", "-p", "free", "--at", at(T0))
    before = everything(cli_env)
    path = tmp_path / "in.ndjson"
    path.write_text(content)
    result = run("billing", "import", str(path))
    assert result.exit_code == 2 and "in.ndjson:1" in result.stderr and message in result.stderr
    assert everything(cli_env) == before


def test_billing_import_missing_file(cli_env: str, tmp_path: Path) -> None:
    result = run("billing", "import", str(tmp_path / "none.ndjson"))
    assert result.exit_code == 2 and "cannot read" in result.stderr
