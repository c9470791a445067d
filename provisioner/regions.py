"""The signup locations from regions.yaml, validated on load.

A location is where a customer chose to keep their data at signup (`de`: Frankfurt). Each maps
to one AWS region and names where its backups are copied: another region of the same
jurisdiction, or a logically air-gapped vault in the same region where the jurisdiction has only
one AWS region. An invalid file fails on load with the file, the location and the field.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from provisioner.errors import ConfigError, UsageError
from provisioner.paths import regions_file

LOCATION_CODES = ("us", "uk", "ie", "de", "au", "sg", "jp", "in")
BackupMode = Literal["cross-region", "air-gapped"]
_REGION_RE = re.compile(r"[a-z]{2}-[a-z]+-[0-9]")
_ACCOUNT_RE = re.compile(r"[0-9]{12}")
_ROLE_RE = re.compile(r"[A-Za-z0-9+=,.@_-]{1,64}")


@dataclass(frozen=True)
class BackupDestination:
    """Where a location's daily backups are copied."""

    mode: BackupMode  # vault in another region, or an air-gapped vault in-region
    region: str  # AWS region of the destination vault
    opt_in: bool  # the destination region must be enabled on the account first
    why: str  # the reason, for an auditor
    account_id: str  # the location's backup account, which owns the copy vault and its key


@dataclass(frozen=True)
class Location:
    """One signup location."""

    code: str  # what customers and operators type: "de"
    region: str  # AWS region: "eu-central-1"
    name: str  # display name: "Germany (Frankfurt)"
    jurisdiction: str  # legal jurisdiction: "EU"
    zones: tuple[str, ...]  # availability zones the subnets use
    opt_in: bool  # the region must be enabled on the account first
    elb_account_id: str  # ELB's log-delivery account for the region
    offline_image_id: str  # image id the offline plan's mocks answer with
    backup: BackupDestination

    @property
    def backup_is_cross_region(self) -> bool:
        return self.backup.mode == "cross-region"


@dataclass(frozen=True)
class Platform:
    """The platform's own roles, by name (the same name in every account)."""

    admin_role: str  # in tenant accounts: administers tenant keys, runs deployments
    backup_role: str  # in backup accounts: assumed by the tenant program's second provider

    def admin_role_arn(self, account: str) -> str:
        return f"arn:aws:iam::{account}:role/{self.admin_role}"

    def backup_role_arn(self, account: str) -> str:
        return f"arn:aws:iam::{account}:role/{self.backup_role}"


@dataclass(frozen=True)
class Catalogue:
    """Everything regions.yaml holds."""

    locations: dict[str, Location]
    domain: str  # tenants are served at {slug}.{domain}
    hosted_zone_id: str  # Route 53 zone of `domain`
    offline_account_id: str  # account id the offline plan's mocks answer with
    platform: Platform  # the platform's roles in tenant and backup accounts
    source: Path

    def regions(self) -> set[str]:
        return {loc.region for loc in self.locations.values()}

    def resolve(self, value: str) -> Location:
        """A location by its code (`de`) or its AWS region name (`eu-central-1`)."""
        key = value.strip().lower()
        if key in self.locations:
            return self.locations[key]
        for loc in self.locations.values():
            if loc.region == key:
                return loc
        choices = ", ".join(f"{c} ({loc.region})" for c, loc in self.locations.items())
        raise UsageError(f"unknown location {value!r}: use one of {choices}")


def _field(source: Path, where: str, data: dict[str, Any], name: str, kind: type) -> Any:
    if name not in data:
        raise ConfigError(f"{source}: {where}: missing field '{name}'")
    value = data[name]
    if kind is bool and not isinstance(value, bool):
        raise ConfigError(f"{source}: {where}: field '{name}' must be true or false, got {value!r}")
    if kind is str and (not isinstance(value, str) or not value.strip()):
        raise ConfigError(f"{source}: {where}: field '{name}' must be a non-empty string")
    return value


def _region(source: Path, where: str, data: dict[str, Any], name: str) -> str:
    value = _field(source, where, data, name, str)
    if not _REGION_RE.fullmatch(value):
        raise ConfigError(f"{source}: {where}: field '{name}' is not an AWS region name: {value!r}")
    return str(value)


def _parse_location(source: Path, code: str, data: Any) -> Location:
    where = f"location '{code}'"
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: {where}: must be a mapping of fields")
    region = _region(source, where, data, "region")
    zones = _field(source, where, data, "zones", list)
    if (
        not isinstance(zones, list)
        or len(zones) < 2
        or not all(isinstance(z, str) and z.startswith(region) for z in zones)
    ):
        raise ConfigError(
            f"{source}: {where}: field 'zones' must list at least two zones of {region}"
        )
    elb = str(_field(source, where, data, "elb_account_id", str))
    if not _ACCOUNT_RE.fullmatch(elb):
        raise ConfigError(f"{source}: {where}: field 'elb_account_id' must be 12 digits")
    backup_data = _field(source, where, data, "backup", dict)
    if not isinstance(backup_data, dict):
        raise ConfigError(f"{source}: {where}: field 'backup' must be a mapping")
    bwhere = f"{where}: backup"
    mode = _field(source, bwhere, backup_data, "mode", str)
    if mode not in ("cross-region", "air-gapped"):
        raise ConfigError(
            f"{source}: {bwhere}: field 'mode' must be 'cross-region' or 'air-gapped', got {mode!r}"
        )
    backup_region = _region(source, bwhere, backup_data, "region")
    if mode == "cross-region" and backup_region == region:
        raise ConfigError(
            f"{source}: {bwhere}: field 'region' must differ from {region} for a cross-region copy"
        )
    if mode == "air-gapped" and backup_region != region:
        raise ConfigError(
            f"{source}: {bwhere}: field 'region' must be {region} for an air-gapped vault"
        )
    backup_account = str(_field(source, bwhere, backup_data, "account_id", str))
    if not _ACCOUNT_RE.fullmatch(backup_account):
        raise ConfigError(f"{source}: {bwhere}: field 'account_id' must be 12 digits")
    backup = BackupDestination(
        mode=mode,
        region=backup_region,
        opt_in=_field(source, bwhere, backup_data, "opt_in", bool),
        why=" ".join(str(_field(source, bwhere, backup_data, "why", str)).split()),
        account_id=backup_account,
    )
    return Location(
        code=code,
        region=region,
        name=_field(source, where, data, "name", str),
        jurisdiction=_field(source, where, data, "jurisdiction", str),
        zones=tuple(zones),
        opt_in=_field(source, where, data, "opt_in", bool),
        elb_account_id=elb,
        offline_image_id=_field(source, where, data, "offline_image_id", str),
        backup=backup,
    )


def parse_catalogue(source: Path, raw: Any) -> Catalogue:
    """Validate the parsed YAML of `source`; raise ConfigError naming what is wrong."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: must be a mapping with 'dns', 'offline' and 'locations'")
    dns = _field(source, "top level", raw, "dns", dict)
    offline = _field(source, "top level", raw, "offline", dict)
    locations_raw = _field(source, "top level", raw, "locations", dict)
    if not isinstance(dns, dict) or not isinstance(offline, dict):
        raise ConfigError(f"{source}: 'dns' and 'offline' must be mappings")
    if not isinstance(locations_raw, dict):
        raise ConfigError(f"{source}: 'locations' must be a mapping of location codes")
    missing = [c for c in LOCATION_CODES if c not in locations_raw]
    if missing:
        raise ConfigError(f"{source}: locations: missing location(s) {', '.join(missing)}")
    locations = {
        code: _parse_location(source, code, data) for code, data in locations_raw.items()
    }
    jurisdictions: dict[str, str] = {}
    for loc in locations.values():
        jurisdictions.setdefault(loc.region, loc.jurisdiction)
    for loc in locations.values():
        # A copy must stay in the jurisdiction: if the destination region is itself a signup
        # region, it must belong to the same jurisdiction.
        dest_j = jurisdictions.get(loc.backup.region)
        if dest_j is not None and dest_j != loc.jurisdiction:
            raise ConfigError(
                f"{source}: location '{loc.code}': backup: field 'region' {loc.backup.region} is in"
                f" jurisdiction {dest_j}, not {loc.jurisdiction}: copies never cross a border"
            )
    account = str(_field(source, "offline", offline, "account_id", str))
    if not _ACCOUNT_RE.fullmatch(account):
        raise ConfigError(f"{source}: offline: field 'account_id' must be 12 digits")
    for loc in locations.values():
        if loc.backup.account_id == account:
            raise ConfigError(
                f"{source}: location '{loc.code}': backup: field 'account_id' is the tenant"
                " account (offline account_id): backups must live in a separate account"
            )
    platform_raw = _field(source, "top level", raw, "platform", dict)
    if not isinstance(platform_raw, dict):
        raise ConfigError(f"{source}: 'platform' must be a mapping")
    roles = {}
    for name in ("admin_role", "backup_role"):
        value = str(_field(source, "platform", platform_raw, name, str))
        if not _ROLE_RE.fullmatch(value):
            raise ConfigError(f"{source}: platform: field '{name}' is not an IAM role name")
        roles[name] = value
    return Catalogue(
        locations=locations,
        domain=_field(source, "dns", dns, "domain", str),
        hosted_zone_id=_field(source, "dns", dns, "hosted_zone_id", str),
        offline_account_id=account,
        platform=Platform(**roles),
        source=source,
    )


def load_catalogue(path: Path | None = None) -> Catalogue:
    """Read and validate regions.yaml (or `path`)."""
    source = path or regions_file()
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{source}: file not found; set PROVISIONER_REGIONS_FILE") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}".replace("\n", " ")) from exc
    return parse_catalogue(source, raw)


@functools.cache
def catalogue() -> Catalogue:
    """The catalogue of the configured regions.yaml, loaded once per process."""
    return load_catalogue()
