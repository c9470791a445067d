"""regions.yaml: the eight locations, and validation errors that name file, location, field."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from provisioner.errors import ConfigError, UsageError
from provisioner.paths import PROJECT_ROOT
from provisioner.regions import LOCATION_CODES, catalogue, load_catalogue, parse_catalogue

EXPECTED_REGIONS = {
    "us": "us-east-1", "uk": "eu-west-2", "ie": "eu-west-1", "de": "eu-central-1",
    "au": "ap-southeast-2", "sg": "ap-southeast-1", "jp": "ap-northeast-1", "in": "ap-south-1",
}  # fmt: skip
SOURCE = PROJECT_ROOT / "regions.yaml"


def _raw() -> dict[str, Any]:
    return yaml.safe_load(SOURCE.read_text())


def test_the_eight_locations_map_to_their_regions() -> None:
    cat = catalogue()
    assert {c: loc.region for c, loc in cat.locations.items()} == EXPECTED_REGIONS


@pytest.mark.parametrize(
    ("code", "destination"),
    [("de", "eu-west-1"), ("ie", "eu-central-1"), ("jp", "ap-northeast-3"),
     ("in", "ap-south-2"), ("au", "ap-southeast-4"), ("us", "us-west-2")],
)  # fmt: skip
def test_cross_region_backup_destinations(code: str, destination: str) -> None:
    loc = catalogue().locations[code]
    assert loc.backup.mode == "cross-region" and loc.backup.region == destination


@pytest.mark.parametrize("code", ["uk", "sg"])
def test_single_region_jurisdictions_use_an_air_gapped_vault_at_home(code: str) -> None:
    loc = catalogue().locations[code]
    assert loc.backup.mode == "air-gapped" and loc.backup.region == loc.region
    assert "jurisdiction" in loc.backup.why


def test_every_location_has_two_zones_of_its_own_region() -> None:
    for loc in catalogue().locations.values():
        assert len(loc.zones) >= 2 and all(z.startswith(loc.region) for z in loc.zones)


def test_resolve_by_code_or_region_and_reject_others() -> None:
    cat = catalogue()
    assert cat.resolve("DE").code == "de" and cat.resolve("ap-south-1").code == "in"
    with pytest.raises(UsageError, match="unknown location 'eu-central-2'"):
        cat.resolve("eu-central-2")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["locations"]["de"].pop("region"), "location 'de': missing field 'region'"),
        (lambda d: d["locations"]["jp"].update(zones=["ap-northeast-1a"]),
         "location 'jp': field 'zones' must list at least two"),
        (lambda d: d["locations"]["us"].update(opt_in="no"),
         "location 'us': field 'opt_in' must be true or false"),
        (lambda d: d["locations"]["de"]["backup"].update(region="us-east-1"),
         "location 'de': backup: field 'region' us-east-1 is in jurisdiction US, not EU"),
        (lambda d: d["locations"]["uk"]["backup"].update(region="eu-west-1"),
         "location 'uk': backup: field 'region' must be eu-west-2 for an air-gapped vault"),
        (lambda d: d["locations"]["ie"]["backup"].update(mode="tape"),
         "location 'ie': backup: field 'mode' must be"),
        (lambda d: d["locations"].pop("sg"), "missing location(s) sg"),
        (lambda d: d["locations"]["au"].update(region="sydney"),
         "location 'au': field 'region' is not an AWS region name"),
    ],
)  # fmt: skip
def test_invalid_files_name_the_file_location_and_field(mutate: Any, message: str) -> None:
    data = copy.deepcopy(_raw())
    mutate(data)
    with pytest.raises(ConfigError) as info:
        parse_catalogue(SOURCE, data)
    assert str(info.value).startswith(str(SOURCE))
    assert message in str(info.value)


def test_unreadable_yaml_is_a_config_error(tmp_path: Path) -> None:
    broken = tmp_path / "regions.yaml"
    broken.write_text("locations: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_catalogue(broken)


def test_all_codes_present() -> None:
    assert set(catalogue().locations) == set(LOCATION_CODES)
