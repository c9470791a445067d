"""The breach-notification rules, loaded from the reviewed data file `jurisdictions.yaml`.

The file is validated on load: an error names the file, the rule and the field (exit 2), so a
lawyer's edit that breaks the file is caught before it can silently drop a clock.
`PROVISIONER_JURISDICTIONS_FILE` points at another file (tests, a reviewed fork).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from provisioner.errors import ConfigError

DEFAULT_FILE = Path(__file__).resolve().parent / "jurisdictions.yaml"
ALL = "*"  # a rule for every jurisdiction with an affected tenant
AUDIENCES = ("customers", "authority", "assessment")
TRIGGERS = ("discovery", "assessment", "materiality")
UNITS = ("hours", "calendar_days", "business_days")
Unit = Literal["hours", "calendar_days", "business_days"]


@dataclass(frozen=True)
class Jurisdiction:
    code: str  # EU, UK, US, ...: regions.yaml's `jurisdiction`
    time_zone: ZoneInfo  # where `effective_from` dates are midnight
    authority: str  # who "authority:<code>" notices go to, as the mail service routes them


@dataclass(frozen=True)
class Rule:
    """One clock: who is told, what starts it, how long it runs, since when, on what authority."""

    id: str
    jurisdiction: str  # a code, or ALL
    audience: str  # one of AUDIENCES
    trigger: str  # one of TRIGGERS
    duration: int | None  # None: no fixed limit ("as soon as practicable")
    unit: Unit
    what: str
    threshold: str
    effective_from: date | None  # None: in force before any tenant existed
    source: str
    applies_when: str | None = None  # an organisation flag that must be true


@dataclass(frozen=True)
class RuleBook:
    rules: tuple[Rule, ...]
    jurisdictions: dict[str, Jurisdiction]
    organisation: dict[str, bool]
    reviewed: date
    source: Path
    contact_keep_days: int = 365  # how long a deleted tenant's notice contact is kept

    def in_force(self, rule: Rule, at: datetime) -> bool:
        """Whether `rule` governs a breach discovered at `at` (and its flag, if any, is set)."""
        if rule.applies_when is not None and not self.organisation.get(rule.applies_when):
            return False
        if rule.effective_from is None:
            return True
        zone = self._zone(rule.jurisdiction)
        start = datetime.combine(rule.effective_from, datetime.min.time(), tzinfo=zone)
        return at >= start

    def _zone(self, code: str) -> ZoneInfo:
        found = self.jurisdictions.get(code)
        return found.time_zone if found else ZoneInfo("UTC")

    def authority(self, code: str) -> str:
        found = self.jurisdictions.get(code)
        return found.authority if found else f"the data protection authority ({code})"


def _need(source: Path, where: str, data: dict[str, Any], name: str, kind: type | tuple) -> Any:
    if name not in data:
        raise ConfigError(f"{source}: {where}: missing field {name!r}")
    value = data[name]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise ConfigError(f"{source}: {where}: field {name!r} has the wrong type ({value!r})")
    return value


def _choice(source: Path, where: str, data: dict[str, Any], name: str, allowed: tuple) -> str:
    value = _need(source, where, data, name, str)
    if value not in allowed:
        raise ConfigError(
            f"{source}: {where}: {name} {value!r} is not one of {', '.join(allowed)}"
        )
    return str(value)


def _rule(source: Path, index: int, data: Any, codes: set[str]) -> Rule:
    where = f"rule {index + 1}"
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: {where}: expected a mapping")
    rule_id = _need(source, where, data, "id", str)
    where = f"rule {rule_id!r}"
    jurisdiction = _need(source, where, data, "jurisdiction", str)
    if jurisdiction != ALL and jurisdiction not in codes:
        raise ConfigError(f"{source}: {where}: unknown jurisdiction {jurisdiction!r}")
    duration = data.get("duration", "missing")
    if duration == "missing":
        raise ConfigError(f"{source}: {where}: missing field 'duration' (a number, or null)")
    if duration is not None and (
        not isinstance(duration, int) or isinstance(duration, bool) or duration <= 0
    ):
        raise ConfigError(f"{source}: {where}: duration {duration!r} must be a positive integer")
    effective = data.get("effective_from", "missing")
    if effective == "missing":
        raise ConfigError(f"{source}: {where}: missing field 'effective_from' (a date, or null)")
    if effective is not None and not isinstance(effective, date):
        raise ConfigError(f"{source}: {where}: effective_from {effective!r} is not a date")
    applies_when = data.get("applies_when")
    if applies_when is not None and not isinstance(applies_when, str):
        raise ConfigError(f"{source}: {where}: applies_when must be a flag name")
    return Rule(
        id=rule_id,
        jurisdiction=jurisdiction,
        audience=_choice(source, where, data, "audience", AUDIENCES),
        trigger=_choice(source, where, data, "trigger", TRIGGERS),
        duration=duration,
        unit=_choice(source, where, data, "unit", UNITS),  # type: ignore[arg-type]
        what=_need(source, where, data, "what", str),
        threshold=_need(source, where, data, "threshold", str),
        effective_from=effective,
        source=_need(source, where, data, "source", str),
        applies_when=applies_when,
    )


def parse_rulebook(source: Path, raw: Any) -> RuleBook:
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level")
    juris_raw = _need(source, "top level", raw, "jurisdictions", dict)
    jurisdictions: dict[str, Jurisdiction] = {}
    for code, entry in juris_raw.items():
        where = f"jurisdiction {code!r}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{source}: {where}: expected a mapping")
        zone_name = _need(source, where, entry, "time_zone", str)
        try:
            zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(f"{source}: {where}: unknown time_zone {zone_name!r}") from exc
        jurisdictions[code] = Jurisdiction(
            code, zone, _need(source, where, entry, "authority", str)
        )
    organisation = raw.get("organisation") or {}
    if not isinstance(organisation, dict) or not all(
        isinstance(v, bool) for v in organisation.values()
    ):
        raise ConfigError(f"{source}: organisation: expected flags (name: true|false)")
    rules_raw = _need(source, "top level", raw, "rules", list)
    rules = tuple(_rule(source, i, r, set(jurisdictions)) for i, r in enumerate(rules_raw))
    ids = [r.id for r in rules]
    duplicate = sorted({i for i in ids if ids.count(i) > 1})
    if duplicate:
        raise ConfigError(f"{source}: rule id(s) used twice: {', '.join(duplicate)}")
    for rule in rules:
        if rule.applies_when is not None and rule.applies_when not in organisation:
            raise ConfigError(
                f"{source}: rule {rule.id!r}: applies_when {rule.applies_when!r} is not a flag"
                " under organisation"
            )
    reviewed = _need(source, "top level", raw, "reviewed", date)
    keep = _need(source, "top level", raw, "notice_contact_keep_days", int)
    if keep <= 0:
        raise ConfigError(f"{source}: notice_contact_keep_days must be a positive number of days")
    return RuleBook(rules, jurisdictions, dict(organisation), reviewed, source, keep)


def load_rulebook(path: Path | None = None) -> RuleBook:
    source = path or Path(os.environ.get("PROVISIONER_JURISDICTIONS_FILE") or DEFAULT_FILE)
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {source}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source} is not valid YAML: {exc}") from exc
    return parse_rulebook(source, raw)


@functools.cache
def _cached(path: str) -> RuleBook:
    return load_rulebook(Path(path))


def rulebook() -> RuleBook:
    """The rules in force for this process (the file is read once per path)."""
    return _cached(os.environ.get("PROVISIONER_JURISDICTIONS_FILE") or str(DEFAULT_FILE))
