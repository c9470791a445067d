"""Every clock of the reviewed data file at its boundary: the due instant each rule gives for a
fixed discovery (worked out by hand here, not by the code under test), open at the due instant
and overdue a microsecond later, business days on the jurisdiction's own calendar, the date a
rule takes effect, and the triggers that start later (assessment, materiality)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from provisioner.incidents.deadlines import Deadline, Progress, add_duration, deadlines
from provisioner.incidents.rules import rulebook

US = timedelta(microseconds=1)
H = timedelta(hours=1)
D = timedelta(days=1)
# Friday 4 June 2027, 10:00 UTC (06:00 in New York): after every rule's effective date.
FOUND = datetime(2027, 6, 4, 10, 0, tzinfo=UTC)
ALL = ("EU", "UK", "US", "AU", "SG", "JP", "IN")

EXPECTED = {  # (audience, rule) -> due, for a breach discovered at FOUND, nothing assessed yet
    ("customers", "promise.customers-72h"): FOUND + 72 * H,
    **{(f"authority:{c}", "promise.authority-72h"): FOUND + 72 * H for c in ALL},
    ("authority:EU", "eu.gdpr-art33"): FOUND + 72 * H,
    ("authority:UK", "uk.ico-72h"): FOUND + 72 * H,
    # 14 business days on New York's calendar: 7-11, 14-18, 21-24 June; same local time.
    ("authority:US", "us.vt-ag-preliminary"): datetime(2027, 6, 24, 10, 0, tzinfo=UTC),
    ("authority:US", "us.co-ag-30d"): FOUND + 30 * D,
    ("authority:US", "us.fl-ag-30d"): FOUND + 30 * D,
    ("assessment:AU", "au.ndb-assessment-30d"): FOUND + 30 * D,
    ("assessment:SG", "sg.pdpa-assessment-30d"): FOUND + 30 * D,
    ("authority:JP", "jp.appi-preliminary"): FOUND + 3 * D,
    ("authority:JP", "jp.appi-final"): FOUND + 30 * D,
    ("authority:IN", "in.cert-in-6h"): FOUND + 6 * H,
    ("authority:IN", "in.dpdp-rule7-72h"): FOUND + 72 * H,
}
AWAITING = {  # clocks that start at the assessment: no date yet
    ("authority:AU", "au.ndb-notify"): "awaiting-assessment",
    ("authority:SG", "sg.pdpa-3d"): "awaiting-assessment",
}


def _by_key(found: list[Deadline]) -> dict[tuple[str, str], Deadline]:
    return {(d.audience, d.rule): d for d in found}


def test_every_rule_is_due_when_the_law_says() -> None:
    found = _by_key(deadlines(rulebook(), Progress("breach", FOUND), ALL, FOUND))
    assert {k: d.due for k, d in found.items() if d.due} == EXPECTED
    assert {k: d.status for k, d in found.items() if d.due is None} == AWAITING


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_open_at_the_due_instant_and_overdue_just_after(key: tuple[str, str]) -> None:
    due = EXPECTED[key]
    before = _by_key(deadlines(rulebook(), Progress("breach", FOUND), ALL, due))[key]
    after = _by_key(deadlines(rulebook(), Progress("breach", FOUND), ALL, due + US))[key]
    assert (before.status, before.left_seconds) == ("open", 0)
    assert after.status == "overdue"


def test_soonest_first_and_only_the_affected_jurisdictions() -> None:
    found = deadlines(rulebook(), Progress("breach", FOUND), ["IN", "EU"], FOUND)
    dated = [d.due for d in found if d.due is not None]
    assert dated == sorted(dated)
    assert found[0].rule == "in.cert-in-6h"
    assert {d.jurisdiction for d in found} == {"IN", "EU", "*"}


def test_india_dpdp_rule_applies_from_13_may_2027_in_india() -> None:
    # Midnight 13 May 2027 in India is 18:30 UTC on 12 May.
    start = datetime(2027, 5, 12, 18, 30, tzinfo=UTC)
    before = deadlines(rulebook(), Progress("breach", start - US), ["IN"], start)
    on = deadlines(rulebook(), Progress("breach", start), ["IN"], start)
    assert "in.dpdp-rule7-72h" not in {d.rule for d in before}
    assert "in.cert-in-6h" in {d.rule for d in before}
    assert {d.rule: d.due for d in on}["in.dpdp-rule7-72h"] == start + 72 * H


def test_singapore_clock_starts_at_the_assessment() -> None:
    assessed = FOUND + 5 * D
    progress = Progress(
        "breach", FOUND, notifiable=True, assessed_at=assessed, notifiable_at=assessed
    )
    found = _by_key(deadlines(rulebook(), progress, ["SG"], assessed))
    assert found[("authority:SG", "sg.pdpa-3d")].due == assessed + 3 * D
    assert found[("assessment:SG", "sg.pdpa-assessment-30d")].status == "met"


def test_not_notifiable_is_recorded_as_not_required_but_the_assessment_is_met() -> None:
    progress = Progress("breach", FOUND, notifiable=False, assessed_at=FOUND + 31 * D)
    found = _by_key(deadlines(rulebook(), progress, ["AU"], FOUND + 40 * D))
    assert found[("authority:AU", "promise.authority-72h")].status == "not-required"
    assert found[("customers", "promise.customers-72h")].status == "not-required"
    assert found[("assessment:AU", "au.ndb-assessment-30d")].status == "late"


def test_told_in_time_is_met_and_after_the_due_instant_late() -> None:
    due = FOUND + 72 * H
    on_time = Progress("breach", FOUND, told={"customers": due, "authority:EU": due + US})
    found = _by_key(deadlines(rulebook(), on_time, ["EU"], due + D))
    assert found[("customers", "promise.customers-72h")].status == "met"
    assert found[("authority:EU", "eu.gdpr-art33")].status == "late"


def test_an_outage_starts_no_legal_clock() -> None:
    assert deadlines(rulebook(), Progress("outage", FOUND), ALL, FOUND) == []


def test_sec_form_8k_only_for_registrants_and_from_the_materiality_determination() -> None:
    book = rulebook()
    # Friday 22:00 in New York is already Saturday in UTC: business days count on New York's
    # calendar, so 4 business days end on Thursday 22:00 New York time.
    material = datetime(2027, 6, 5, 2, 0, tzinfo=UTC)
    progress = Progress("breach", FOUND, material_at=material)
    assert "us.sec-8k-item-1.05" not in {d.rule for d in deadlines(book, progress, ["US"], FOUND)}
    registrant = replace(book, organisation={"sec_registrant": True})
    waiting = _by_key(deadlines(registrant, Progress("breach", FOUND), ["US"], FOUND))
    assert waiting[("authority:US", "us.sec-8k-item-1.05")].status == "awaiting-materiality"
    found = _by_key(deadlines(registrant, progress, ["US"], FOUND))
    assert found[("authority:US", "us.sec-8k-item-1.05")].due == datetime(
        2027, 6, 11, 2, 0, tzinfo=UTC
    )


def test_business_days_skip_the_weekend_from_a_saturday() -> None:
    from zoneinfo import ZoneInfo

    saturday = datetime(2027, 6, 5, 15, 0, tzinfo=UTC)
    assert add_duration(saturday, 1, "business_days", ZoneInfo("UTC")) == datetime(
        2027, 6, 7, 15, 0, tzinfo=UTC
    )
