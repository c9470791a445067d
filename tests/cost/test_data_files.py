"""The shipped price snapshot and usage file, and what their loaders refuse."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from provisioner.cost.snapshot import DEFAULT_PRICES, load_snapshot
from provisioner.cost.usage import KEYS, load_usage
from provisioner.errors import ConfigError, UsageError
from provisioner.plans import PLANS
from provisioner.regions import catalogue


def test_every_shipped_price_names_its_source_and_date() -> None:
    snapshot = load_snapshot()
    assert snapshot.prices, "an empty snapshot"
    for price in snapshot.prices:
        assert price.source.startswith("https://"), price
        assert price.date[:4].isdigit(), price
        assert price.usd > 0, f"{price}: an unsourced price is left out, never written as 0"


def test_the_snapshot_covers_every_location_and_backup_region() -> None:
    cat = catalogue()
    wanted = {loc.region for loc in cat.locations.values()}
    wanted |= {loc.backup.region for loc in cat.locations.values()}
    assert wanted <= set(load_snapshot().regions)


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"source": ""}, "source must be a non-empty string"),
        ({"usd": -1}, "usd must be a number >= 0"),
        ({"usd": "0.1"}, "usd must be a number >= 0"),
        ({"date": None}, "date must be a non-empty string"),
    ],
)
def test_a_price_without_source_or_with_a_bad_figure_is_refused(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    raw = json.loads(DEFAULT_PRICES.read_text())
    raw["prices"][0].update(change)
    with pytest.raises(ConfigError, match=message):
        load_snapshot(_write(tmp_path, raw))


def test_a_price_listed_twice_is_refused(tmp_path: Path) -> None:
    raw = json.loads(DEFAULT_PRICES.read_text())
    raw["prices"].append(dict(raw["prices"][0]))
    with pytest.raises(ConfigError, match="listed twice"):
        load_snapshot(_write(tmp_path, raw))


def test_the_environment_variable_chooses_the_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = json.loads(DEFAULT_PRICES.read_text())
    raw["prices"] = raw["prices"][:1]
    monkeypatch.setenv("PROVISIONER_PRICES_FILE", str(_write(tmp_path, raw)))
    assert len(load_snapshot().prices) == 1
    monkeypatch.setenv("PROVISIONER_PRICES_FILE", str(tmp_path / "none.json"))
    with pytest.raises(UsageError, match="cannot read price snapshot"):
        load_snapshot()


def test_the_default_usage_file_has_every_figure_for_every_plan() -> None:
    book = load_usage()
    assert set(book.plans) == set(PLANS)
    for plan in PLANS:
        assert set(book.for_plan(plan).figures) == set(KEYS)
    assert book.hours_per_month == 730


def test_a_usage_file_overrides_only_what_it_names(tmp_path: Path) -> None:
    path = tmp_path / "usage.yaml"
    path.write_text(
        "plans:\n  standard:\n    requests_per_month: 9000000\n"
        "resources:\n  observability-app:\n    log_ingest_gb: 40\n"
    )
    default = load_usage().for_plan("standard")
    book = load_usage(path)
    usage = book.for_plan("standard")
    assert usage.get("requests_per_month") == 9_000_000
    assert usage.get("nat_gb_processed") == default.get("nat_gb_processed")
    assert usage.get("log_ingest_gb", "observability-app") == 40
    assert usage.get("log_ingest_gb", "observability-flow-logs") == default.get("log_ingest_gb")
    assert str(path) in book.sources


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("plans:\n  standard:\n    requests: 1\n", "unknown key"),
        ("plans:\n  standard:\n    nat_gb_processed: -3\n", "must be a number >= 0"),
        ("plans:\n  platinum:\n    nat_gb_processed: 3\n", "unknown plan"),
        ("plan: {}\n", "unknown top-level key"),
        ("hours_per_month: 9000\n", "between 1 and 744"),
        ("plans: [\n", r"not valid YAML at line 2, column 1: expected the node content, but"
                        r" found '<stream end>'$"),
        ("plans:\n  standard: {a: 1\n", r"not valid YAML at line 3, column 1: expected ',' or '}'"),
    ],
)
def test_a_bad_usage_file_is_refused_with_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "usage.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as caught:
        load_usage(path)
    assert "\n" not in str(caught.value)
