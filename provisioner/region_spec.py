"""RegionSpec: what a location's platform stack (stacks/region) is a function of.

One platform stack per signup location holds what all the location's tenants share and none may
own: the alert topic their alarms notify, the EventBridge rules that turn backup-job failures
and tenant-key deletions into alerts. Its only inputs are the location and who is alerted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from provisioner.errors import ConfigError, UsageError
from provisioner.regions import Catalogue, Location, catalogue

PROTOCOLS = ("email", "https", "sqs", "lambda")
SUBSCRIPTIONS_ENV = "PROVISIONER_ALERT_SUBSCRIPTIONS"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True, order=True)
class Subscription:
    """Who the alert topic notifies: `email:ops@example.com`, `https://pager.example/hook`."""

    protocol: str
    endpoint: str

    @classmethod
    def parse(cls, text: str, region: str) -> Subscription:
        """From `PROTOCOL:ENDPOINT` (an https URL is taken whole); UsageError saying why not."""
        raw = text.strip()
        protocol, _, endpoint = raw.partition(":")
        if protocol == "https":
            endpoint = raw
        if protocol == "http":
            raise UsageError(f"alert subscription {text!r}: use https:// (alerts never travel in"
                             " plaintext)")
        if protocol not in PROTOCOLS or not endpoint:
            raise UsageError(f"alert subscription {text!r}: use PROTOCOL:ENDPOINT with PROTOCOL"
                             f" one of {', '.join(PROTOCOLS)} (e.g. email:ops@example.com)")
        if protocol == "email" and not _EMAIL.match(endpoint):
            raise UsageError(f"alert subscription {text!r}: not an e-mail address")
        if protocol == "https" and not re.match(r"^https://[^/\s]+", endpoint):
            raise UsageError(f"alert subscription {text!r}: the URL has no host (use"
                             " https://HOST/PATH)")
        if protocol in ("sqs", "lambda"):
            parts = endpoint.split(":")
            if len(parts) < 6 or parts[:3] != ["arn", "aws", protocol]:
                what = "an SQS queue" if protocol == "sqs" else "a Lambda function"
                raise UsageError(f"alert subscription {text!r}: not the ARN of {what}"
                                 f" (arn:aws:{protocol}:REGION:ACCOUNT:...)")
            if parts[3] != region:
                raise UsageError(f"alert subscription {text!r}: in {parts[3]}, not {region}")
        return cls(protocol, endpoint)

    def __str__(self) -> str:
        return self.endpoint if self.protocol == "https" else f"{self.protocol}:{self.endpoint}"


def split_subscriptions(text: str) -> list[str]:
    """`PROVISIONER_ALERT_SUBSCRIPTIONS`: subscriptions separated by commas or whitespace."""
    return [part for part in re.split(r"[,\s]+", text.strip()) if part]


ALL_LOCATIONS = "all"


def configured_subscriptions(location: Location, regions: Catalogue) -> list[str]:
    """Who is alerted by configuration: regions.yaml's `alerts` (`all` for every location, plus
    the location's own code). Kept in git, so a change to it is a change `fleet plan` shows."""
    try:
        raw = yaml.safe_load(regions.source.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{regions.source}: cannot read alerts: {exc}") from exc
    alerts = raw.get("alerts") if isinstance(raw, dict) else None
    if alerts is None:
        return []
    if not isinstance(alerts, dict):
        raise ConfigError(f"{regions.source}: alerts: must map 'all' or a location code to a"
                          " list of subscriptions")
    found: list[str] = []
    for key in (ALL_LOCATIONS, location.code):
        value = alerts.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{regions.source}: alerts: {key}: must be a list of"
                              " PROTOCOL:ENDPOINT strings")
        found += value
    unknown = sorted(set(alerts) - {ALL_LOCATIONS, *regions.locations})
    if unknown:
        raise ConfigError(f"{regions.source}: alerts: unknown location(s) {', '.join(unknown)}")
    return found


@dataclass(frozen=True)
class RegionSpec:
    """The one input of a location's platform stack."""

    location: Location
    subscriptions: tuple[Subscription, ...]
    # The tenants' domain and its Route 53 zone (regions.yaml `dns`): the warm pools' wildcard
    # certificate is issued for it here, once per location, and validated in that zone.
    domain: str = ""
    hosted_zone_id: str = ""

    @classmethod
    def create(
        cls, location: str, subscriptions: list[str] | tuple[str, ...] = (),
        regions: Catalogue | None = None,
    ) -> RegionSpec:
        cat = regions or catalogue()
        loc = cat.resolve(location)
        parsed = sorted({Subscription.parse(s, loc.region) for s in subscriptions})
        return cls(location=loc, subscriptions=tuple(parsed), domain=cat.domain,
                   hosted_zone_id=cat.hosted_zone_id)

    @classmethod
    def configured(cls, location: str, regions: Catalogue | None = None) -> RegionSpec:
        """The spec with the subscriptions regions.yaml configures (`configured_subscriptions`)."""
        cat = regions or catalogue()
        return cls.create(location, configured_subscriptions(cat.resolve(location), cat), cat)

    @property
    def region(self) -> str:
        return self.location.region

    @property
    def stack_name(self) -> str:
        return f"region-{self.location.code}"

    def tags(self) -> dict[str, str]:
        return {"location": self.location.code, "managed-by": "provisioner",
                "role": "region-platform"}

    def to_dict(self) -> dict[str, Any]:
        """The spec as the region plan JSON shows it."""
        return {
            "location": self.location.code,
            "region": self.region,
            "jurisdiction": self.location.jurisdiction,
            "stack": self.stack_name,
            "subscriptions": [str(s) for s in self.subscriptions],
            "domain": self.domain,
        }
