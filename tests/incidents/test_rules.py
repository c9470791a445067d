"""The reviewed data file: every rule carries its source and effective date, and a broken edit
fails on load with the file, the rule and the field (exit 2), never by dropping a clock."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from provisioner.cli.main import app
from provisioner.errors import ConfigError
from provisioner.incidents.rules import DEFAULT_FILE, load_rulebook, parse_rulebook
from provisioner.regions import catalogue


def _raw() -> dict:
    return yaml.safe_load(DEFAULT_FILE.read_text())


def test_every_rule_has_a_source_an_effective_date_and_a_known_jurisdiction() -> None:
    book = load_rulebook()
    raw = {r["id"]: r for r in _raw()["rules"]}
    assert all(r.source.strip() for r in book.rules)
    assert all("effective_from" in raw[r.id] for r in book.rules)
    jurisdictions = {loc.jurisdiction for loc in catalogue().locations.values()}
    assert set(book.jurisdictions) == jurisdictions  # one entry per signup jurisdiction
    assert {r.jurisdiction for r in book.rules} - {"*"} == jurisdictions
    dpdp = next(r for r in book.rules if r.id == "in.dpdp-rule7-72h")
    assert dpdp.effective_from is not None and dpdp.effective_from.isoformat() == "2027-05-13"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda r: r["rules"][2].pop("source"), "rule 'eu.gdpr-art33': missing field 'source'"),
        (lambda r: r["rules"][2].update(unit="weeks"), "unit 'weeks' is not one of"),
        (lambda r: r["rules"][2].update(duration=-1), "must be a positive integer"),
        (lambda r: r["rules"][2].update(effective_from="soon"), "is not a date"),
        (lambda r: r["rules"][2].update(jurisdiction="XX"), "unknown jurisdiction 'XX'"),
        (lambda r: r["rules"][2].update(trigger="rumour"), "trigger 'rumour'"),
        (lambda r: r["rules"].append(dict(r["rules"][2])), "used twice: eu.gdpr-art33"),
        (lambda r: r["jurisdictions"]["EU"].update(time_zone="Mars/Olympus"), "time_zone"),
    ],
)
def test_a_broken_file_names_the_rule_and_the_field(edit, message: str) -> None:
    raw = _raw()
    edit(raw)
    with pytest.raises(ConfigError) as caught:
        parse_rulebook(Path("j.yaml"), raw)
    assert message in str(caught.value) and str(caught.value).startswith("j.yaml")


def test_the_cli_refuses_a_broken_file_with_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "j.yaml"
    broken.write_text("rules: [")
    monkeypatch.setenv("PROVISIONER_JURISDICTIONS_FILE", str(broken))
    monkeypatch.setenv("PROVISIONER_DATABASE_URL", f"sqlite:///{tmp_path / 'r.db'}")
    from provisioner.registry import Registry
    from provisioner.spec import TenantSpec

    with Registry.open() as reg:
        reg.create_tenant(TenantSpec.create("acme", "de", "standard"), actor="test")
    result = CliRunner().invoke(app, ["incident", "open", "--title", "x", "--discovered-at",
                                      "2026-01-01", "--locations", "de"])  # fmt: skip
    assert result.exit_code == 0  # opening needs no rules; showing the clocks does
    shown = CliRunner().invoke(app, ["incident", "show", "1"])
    assert shown.exit_code == 2 and "is not valid YAML" in shown.stderr
