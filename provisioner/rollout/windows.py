"""Maintenance windows: when a tenant accepts an update. Pure (the instant is passed in).

A window is `HH:MM-HH:MM` in a time zone, every day; it may wrap midnight (`22:00-02:00`).
A tenant without its own window gets its location's default: 01:00-05:00 in the location's
time zone (the hours its users are least likely to be at work). IANA zone names (zoneinfo).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from provisioner.errors import UsageError

# The time zone of each signup location's customers (the capital, or the largest market).
LOCATION_TIME_ZONES = {
    "us": "America/New_York",
    "uk": "Europe/London",
    "ie": "Europe/Dublin",
    "de": "Europe/Berlin",
    "au": "Australia/Sydney",
    "sg": "Asia/Singapore",
    "jp": "Asia/Tokyo",
    "in": "Asia/Kolkata",
}
DEFAULT_HOURS = "01:00-05:00"
_WINDOW = re.compile(r"([0-9]{1,2}):([0-9]{2})-([0-9]{1,2}):([0-9]{2})(?: +(\S+))?")


@dataclass(frozen=True)
class Window:
    start: time
    end: time
    zone: str

    @classmethod
    def parse(cls, text: str, default_zone: str = "UTC") -> Window:
        """'02:00-06:00 Europe/Berlin' (zone optional: `default_zone`)."""
        match = _WINDOW.fullmatch(text.strip())
        if match is None:
            raise UsageError(
                f"maintenance window {text!r}: use HH:MM-HH:MM [ZONE], e.g. 02:00-06:00"
                " Europe/Berlin"
            )
        h1, m1, h2, m2, zone = match.groups()
        try:
            start, end = time(int(h1), int(m1)), time(int(h2), int(m2))
        except ValueError:
            raise UsageError(f"maintenance window {text!r}: hours 0-23, minutes 0-59") from None
        if start == end:
            raise UsageError(f"maintenance window {text!r} is empty: start and end are equal")
        zone = zone or default_zone
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise UsageError(f"maintenance window {text!r}: unknown time zone {zone!r}") from None
        return cls(start, end, zone)

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M} {self.zone}"

    def is_open(self, now: datetime) -> bool:
        local = now.astimezone(ZoneInfo(self.zone)).time().replace(tzinfo=None)
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def next_open(self, now: datetime) -> datetime:
        """`now` if open, else the next instant the window opens (UTC)."""
        if self.is_open(now):
            return now
        zone = ZoneInfo(self.zone)
        local = now.astimezone(zone)
        for days in (0, 1, 2):
            day = (local + timedelta(days=days)).date()
            opens = datetime.combine(day, self.start, zone)
            if opens > now:
                return opens.astimezone(UTC)
        raise AssertionError("a daily window opens within two days")


@cache  # a wave reads thousands of tenants; their windows are a handful of distinct texts
def default_window(location: str) -> Window:
    return Window.parse(DEFAULT_HOURS, LOCATION_TIME_ZONES.get(location, "UTC"))


@cache
def window_of(location: str, text: str | None) -> Window:
    """A tenant's window: its own (`text`, in its location's zone unless it names one)."""
    if not text:
        return default_window(location)
    return Window.parse(text, LOCATION_TIME_ZONES.get(location, "UTC"))
