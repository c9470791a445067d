"""The dated price snapshot: on-demand AWS prices as data, each with its source and date.

`provisioner/cost/prices.json` ships with the package; `PROVISIONER_PRICES_FILE` or `--prices`
points at another (e.g. one `provisioner prices refresh` wrote). A price is keyed by
(region, key, variant): `("us-east-1", "ec2.instance_hour", "t3.large")`. Region-independent
services (Route 53) use the region "global".

A figure nobody could source is simply absent: a lookup returns None and the estimate lists the
item as `unpriced`, never as zero.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from provisioner.errors import ConfigError, UsageError

DEFAULT_PRICES = Path(__file__).with_name("prices.json")
SCHEMA = 1
_FIELDS = ("region", "key", "variant", "usd", "unit", "source", "date")


@dataclass(frozen=True)
class Price:
    """One published on-demand price."""

    region: str
    key: str  # what is billed: "rds.instance_hour" (the catalogue is in provisioner/cost/rules.py)
    variant: str  # which one: an instance type, "gp3|Single-AZ", or "" when there is one price
    usd: float  # per `unit`
    unit: str  # "hour", "GB-month", "10,000 requests", ...
    source: str  # the page (or API) the figure was read from
    date: str  # when it was published, or read when the page carries no date
    note: str = ""

    def cite(self) -> str:
        return f"{self.source} ({self.date})"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if not self.note:
            del data["note"]
        return data


@dataclass(frozen=True)
class PriceSnapshot:
    prices_date: str  # when the snapshot was assembled
    method: str  # how: hand-collected pages, or the AWS Price List API
    regions: tuple[str, ...]  # regions the snapshot was meant to cover
    prices: tuple[Price, ...]
    path: str = ""

    def __post_init__(self) -> None:
        index = {(p.region, p.key, p.variant): p for p in self.prices}
        object.__setattr__(self, "_index", index)

    def lookup(self, region: str, key: str, variant: str = "") -> Price | None:
        """The price, or None when the snapshot has no sourced figure for it."""
        index: dict[tuple[str, str, str], Price] = self._index  # type: ignore[attr-defined]
        return index.get((region, key, variant))

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "prices_date": self.prices_date,
            "method": self.method,
            "currency": "USD",
            "regions": list(self.regions),
            "prices": [
                p.to_dict() for p in sorted(self.prices, key=lambda p: (p.region, p.key, p.variant))
            ],
        }


def _price(where: str, entry: Any) -> Price:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} is not a mapping")
    missing = [f for f in _FIELDS if f not in entry]
    if missing:
        raise ConfigError(f"{where} lacks {', '.join(missing)}")
    usd = entry["usd"]
    if (
        isinstance(usd, bool)
        or not isinstance(usd, int | float)
        or not math.isfinite(usd)
        or usd < 0
    ):
        raise ConfigError(f"{where}: usd must be a number >= 0 (leave an unsourced price out)")
    for name in ("region", "key", "unit", "source", "date"):
        if not isinstance(entry[name], str) or not entry[name].strip():
            raise ConfigError(
                f"{where}: {name} must be a non-empty string (every price is sourced)"
            )
    return Price(
        region=entry["region"],
        key=entry["key"],
        variant=str(entry["variant"]),
        usd=float(usd),
        unit=entry["unit"],
        source=entry["source"],
        date=entry["date"],
        note=str(entry.get("note", "")),
    )


def parse_snapshot(raw: Any, name: str) -> PriceSnapshot:
    if not isinstance(raw, dict) or raw.get("schema") != SCHEMA:
        raise ConfigError(f"{name}: not a price snapshot (schema {SCHEMA})")
    entries = raw.get("prices")
    if not isinstance(entries, list):
        raise ConfigError(f"{name}: 'prices' must be a list")
    prices = tuple(_price(f"{name}: price {n}", e) for n, e in enumerate(entries, start=1))
    seen: set[tuple[str, str, str]] = set()
    for p in prices:
        if (p.region, p.key, p.variant) in seen:
            raise ConfigError(f"{name}: {p.region} {p.key} {p.variant!r} is listed twice")
        seen.add((p.region, p.key, p.variant))
    return PriceSnapshot(
        prices_date=str(raw.get("prices_date", "")),
        method=str(raw.get("method", "")),
        regions=tuple(map(str, raw.get("regions", []))),
        prices=prices,
        path=name,
    )


def load_snapshot(path: Path | None = None) -> PriceSnapshot:
    """The snapshot at `path`, $PROVISIONER_PRICES_FILE, or the one shipped with provisioner."""
    env = os.environ.get("PROVISIONER_PRICES_FILE")
    chosen = path or (Path(env) if env else DEFAULT_PRICES)
    try:
        raw = json.loads(chosen.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read price snapshot {chosen}: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{chosen} is not JSON: {exc}") from exc
    return parse_snapshot(raw, str(chosen))


def build_snapshot(
    prices: Iterable[Price], regions: Iterable[str], prices_date: str, method: str
) -> PriceSnapshot:
    return PriceSnapshot(
        prices_date=prices_date, method=method, regions=tuple(regions), prices=tuple(prices)
    )


def write_snapshot(snapshot: PriceSnapshot, path: Path) -> None:
    """Write atomically: a failed refresh never leaves half a snapshot behind."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(
        json.dumps(snapshot.to_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    tmp.replace(path)


def merge(old: PriceSnapshot, new: Mapping[tuple[str, str, str], Price]) -> tuple[Price, ...]:
    """`old`'s prices with those in `new` replacing theirs (a refresh of some regions only)."""
    merged = {(p.region, p.key, p.variant): p for p in old.prices}
    merged.update(new)
    return tuple(merged.values())
