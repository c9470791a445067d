"""Every clock an incident starts, computed from the rulebook and what the timeline records.

Pure: the incident's facts, its affected jurisdictions and an instant in, deadlines out (soonest
first). Which instant starts a clock depends on the rule's trigger: discovery (becoming aware,
noticing), the assessment that the breach is notifiable, or the materiality determination.
Statuses:

    open              running; `left` says how long remains (at the due instant itself: still open)
    overdue           past due and not met
    met / late        the audience was told (or the assessment made) before / after it was due
    awaiting-assessment, awaiting-materiality   the trigger has not happened yet: no date yet
    not-required      the incident was assessed not notifiable (its reasoning is on the timeline)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from provisioner.incidents.rules import ALL, Rule, RuleBook
from provisioner.retention import iso

BREACH = "breach"


@dataclass(frozen=True)
class Progress:
    """What the timeline says has happened so far (read by provisioner.incidents.timeline)."""

    kind: str  # breach, outage, other: only a breach starts legal clocks
    discovered_at: datetime
    notifiable: bool | None = None  # the latest assessment (None: not assessed yet)
    assessed_at: datetime | None = None  # the first assessment, whatever its answer
    notifiable_at: datetime | None = None  # when it was first assessed notifiable
    material_at: datetime | None = None  # when it was determined material (SEC)
    told: Mapping[str, datetime] | None = None  # audience -> when it was fully told


@dataclass(frozen=True)
class Deadline:
    audience: str  # customers, authority:EU, assessment:AU
    jurisdiction: str  # EU, ... or "*" for the customer promise
    rule: str
    what: str
    threshold: str
    source: str
    trigger: str
    due: datetime | None  # None: awaiting its trigger, or no fixed limit
    status: str
    left_seconds: int | None  # while open: seconds until due

    def to_dict(self) -> dict[str, Any]:
        return {
            "audience": self.audience,
            "jurisdiction": self.jurisdiction,
            "rule": self.rule,
            "what": self.what,
            "threshold": self.threshold,
            "source": self.source,
            "trigger": self.trigger,
            "due": iso(self.due) if self.due else None,
            "status": self.status,
            "left_seconds": self.left_seconds,
        }


def add_duration(start: datetime, duration: int, unit: str, zone: ZoneInfo) -> datetime:
    """`start` plus `duration` hours, calendar days or business days. Business days are counted
    on the jurisdiction's calendar (Monday to Friday in `zone`, the same local time of day; public
    holidays are not skipped, so the date is never later than the legal one)."""
    if unit == "hours":
        return start + timedelta(hours=duration)
    if unit == "calendar_days":
        return start + timedelta(days=duration)
    local = start.astimezone(zone)
    day, counted = local, 0
    while counted < duration:
        day = day + timedelta(days=1)
        if day.weekday() < 5:
            counted += 1
    wall = datetime.combine(day.date(), local.timetz().replace(tzinfo=None), tzinfo=zone)
    return wall.astimezone(start.tzinfo)


def _trigger_instant(rule: Rule, progress: Progress) -> datetime | None:
    if rule.trigger == "discovery":
        return progress.discovered_at
    if rule.trigger == "assessment":
        return progress.notifiable_at
    return progress.material_at


def _audience(rule: Rule, jurisdiction: str) -> str:
    return "customers" if rule.audience == "customers" else f"{rule.audience}:{jurisdiction}"


def _status(
    rule: Rule, due: datetime | None, started: datetime | None, done: datetime | None,
    progress: Progress, now: datetime,
) -> tuple[str, int | None]:  # fmt: skip
    if rule.audience != "assessment" and progress.notifiable is False:
        return "not-required", None
    if done is not None:
        return ("late" if due is not None and done > due else "met"), None
    if started is None:
        return f"awaiting-{rule.trigger}", None
    if due is None:
        return "open", None
    if now > due:
        return "overdue", None
    return "open", int((due - now).total_seconds())


def deadlines(
    book: RuleBook, progress: Progress, jurisdictions: Iterable[str], now: datetime
) -> list[Deadline]:
    """The incident's deadlines for its affected `jurisdictions`, soonest first (undated last)."""
    if progress.kind != BREACH:
        return []
    told = dict(progress.told or {})
    out: list[Deadline] = []
    codes = sorted(set(jurisdictions))
    for rule in book.rules:
        if not book.in_force(rule, progress.discovered_at):
            continue
        if rule.audience == "customers":
            targets = ["*"] if codes else []
        else:
            targets = [c for c in codes if rule.jurisdiction in (ALL, c)]
        for code in targets:
            known = book.jurisdictions.get(code)
            zone = known.time_zone if known else ZoneInfo("UTC")
            started = _trigger_instant(rule, progress)
            due = (
                add_duration(started, rule.duration, rule.unit, zone)
                if started is not None and rule.duration is not None
                else None
            )
            audience = _audience(rule, code)
            done = progress.assessed_at if rule.audience == "assessment" else told.get(audience)
            status, left = _status(rule, due, started, done, progress, now)
            out.append(
                Deadline(audience, code, rule.id, rule.what, rule.threshold, rule.source,
                         rule.trigger, due, status, left)
            )  # fmt: skip
    out.sort(key=lambda d: (d.due is None, d.due or progress.discovered_at, d.audience, d.rule))
    return out
