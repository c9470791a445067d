"""`provisioner prices refresh`: the price snapshot rebuilt from the AWS Price List API.

This is the one module that asks the Price List API (boto3's `pricing` client, operation
GetProducts); the client itself comes from provisioner/audit/clients.py like every boto3 client
of provisioner. The API is served from us-east-1 whatever region is priced (the region is a
filter, `regionCode`).

GetProducts answers `PriceList`: a list of JSON *strings*, each one product with its
attributes and terms (https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/reading-service-price-list-file-for-services.html):

    {"product": {"sku": "...", "productFamily": "...", "attributes": {...}},
     "publicationDate": "2026-11-20T...Z",
     "terms": {"OnDemand": {"SKU.TERM": {"priceDimensions": {"SKU.TERM.RATE": {"unit": "Hrs",
         "beginRange": "0", "endRange": "Inf", "pricePerUnit": {"USD": "0.0832"}}}}}}}

Each price key the estimates use is one query (service code, attribute filters, the unit of the
price dimension to read and a scale to the snapshot's unit). A query may match no product
(reported `missing`: the old figure, or its absence, stays) or several with different prices
(reported `ambiguous` and skipped rather than guessed).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from provisioner.cost.snapshot import Price, PriceSnapshot, build_snapshot, merge

PRICING_REGION = "us-east-1"  # where the Price List API is served
API_SOURCE = "AWS Price List API GetProducts"
MAX_RESULTS = 100


@dataclass(frozen=True)
class PriceQuery:
    key: str
    variant: str
    service: str  # Price List service code: AmazonEC2, AmazonRDS, AWSELB, ...
    filters: tuple[tuple[str, str], ...]  # TERM_MATCH attribute filters besides the region
    unit: str  # the price dimension's unit to read ("Hrs", "GB-Mo", ...)
    snapshot_unit: str
    scale: float = 1.0  # snapshot price = API price x scale (e.g. per request -> per 10,000)
    region_field: str = "regionCode"  # "" for global services


def _plan_sizes() -> tuple[set[str], set[str]]:
    from provisioner.plans import PLANS

    return (
        {p.instance_type for p in PLANS.values()},
        {p.db_instance_class for p in PLANS.values()},
    )


def queries(region: str) -> list[PriceQuery]:
    """What `refresh` asks for one region: every key the rules charge, for the plans' sizes."""
    if region == "global":
        return [
            PriceQuery(
                "route53.hosted_zone_month",
                "",
                "AmazonRoute53",
                (("productFamily", "DNS Zone"),),
                "HostedZone",
                "hosted-zone-month",
                region_field="",
            ),
            PriceQuery(
                "route53.queries_million",
                "",
                "AmazonRoute53",
                (("productFamily", "DNS Query"), ("routingType", "Standard")),
                "Queries",
                "million queries",
                1e6,
                region_field="",
            ),
        ]
    instance_types, db_classes = _plan_sizes()
    found: list[PriceQuery] = [
        PriceQuery(
            "ec2.instance_hour",
            t,
            "AmazonEC2",
            (
                ("instanceType", t),
                ("operatingSystem", "Linux"),
                ("tenancy", "Shared"),
                ("preInstalledSw", "NA"),
                ("capacitystatus", "Used"),
                ("operation", "RunInstances"),
            ),
            "Hrs",
            "hour",
        )
        for t in sorted(instance_types)
    ]
    found.append(
        PriceQuery(
            "ebs.gb_month",
            "gp3",
            "AmazonEC2",
            (("productFamily", "Storage"), ("volumeApiName", "gp3")),
            "GB-Mo",
            "GB-month",
        )
    )
    for deployment in ("Single-AZ", "Multi-AZ"):
        found += [
            PriceQuery(
                "rds.instance_hour",
                f"mysql|{c}|{deployment}",
                "AmazonRDS",
                (
                    ("instanceType", c),
                    ("databaseEngine", "MySQL"),
                    ("deploymentOption", deployment),
                ),
                "Hrs",
                "hour",
            )
            for c in sorted(db_classes)
        ]
        found.append(
            PriceQuery(
                "rds.storage_gb_month",
                f"gp3|{deployment}",
                "AmazonRDS",
                (
                    ("productFamily", "Database Storage"),
                    ("volumeType", "General Purpose-GP3"),
                    ("databaseEngine", "MySQL"),
                    ("deploymentOption", deployment),
                ),
                "GB-Mo",
                "GB-month",
            )
        )
    simple = [
        (
            "rds.backup_gb_month",
            "AmazonRDS",
            (("productFamily", "Storage Snapshot"), ("databaseEngine", "MySQL")),
            "GB-Mo",
            "GB-month",
            1.0,
        ),
        (
            "elb.alb_hour",
            "AWSELB",
            (("productFamily", "Load Balancer-Application"),),
            "Hrs",
            "hour",
            1.0,
        ),
        (
            "elb.alb_lcu_hour",
            "AWSELB",
            (("productFamily", "Load Balancer-Application"),),
            "LCU-Hrs",
            "LCU-hour",
            1.0,
        ),
        (
            "elb.nlb_hour",
            "AWSELB",
            (("productFamily", "Load Balancer-Network"),),
            "Hrs",
            "hour",
            1.0,
        ),
        (
            "elb.nlb_lcu_hour",
            "AWSELB",
            (("productFamily", "Load Balancer-Network"),),
            "LCU-Hrs",
            "NLCU-hour",
            1.0,
        ),
        (
            "vpc.nat_gateway_hour",
            "AmazonEC2",
            (("productFamily", "NAT Gateway"),),
            "Hrs",
            "hour",
            1.0,
        ),
        (
            "vpc.nat_gateway_gb",
            "AmazonEC2",
            (("productFamily", "NAT Gateway"),),
            "GB",
            "GB processed",
            1.0,
        ),
        (
            "vpc.public_ipv4_hour",
            "AmazonVPC",
            (("productFamily", "VPC Public IPv4 Address"), ("group", "VPCPublicIPv4Address")),
            "Hrs",
            "address-hour",
            1.0,
        ),
        (
            "kms.key_month",
            "awskms",
            (("productFamily", "Encryption Key"),),
            "Keys",
            "key-month",
            1.0,
        ),
        (
            "kms.requests_10k",
            "awskms",
            (("productFamily", "Key Management Service"),),
            "Requests",
            "10,000 requests",
            1e4,
        ),
        (
            "logs.ingest_gb",
            "AmazonCloudWatch",
            (("productFamily", "Data Payload"),),
            "GB",
            "GB ingested",
            1.0,
        ),
        (
            "logs.storage_gb_month",
            "AmazonCloudWatch",
            (("productFamily", "Storage Snapshot"),),
            "GB-Mo",
            "GB-month",
            1.0,
        ),
        ("waf.web_acl_month", "awswaf", (("group", "Web ACL"),), "WebACL", "web-ACL-month", 1.0),
        ("waf.rule_month", "awswaf", (("group", "Rule"),), "Rule", "rule-month", 1.0),
        (
            "waf.requests_million",
            "awswaf",
            (("group", "Request"),),
            "Request",
            "million requests",
            1e6,
        ),
        (
            "secretsmanager.secret_month",
            "AWSSecretsManager",
            (("productFamily", "Secret"),),
            "Secrets",
            "secret-month",
            1.0,
        ),
        (
            "secretsmanager.api_10k",
            "AWSSecretsManager",
            (("productFamily", "API Request"),),
            "API Requests",
            "10,000 API calls",
            1e4,
        ),
        (
            "backup.warm_gb_month",
            "AWSBackup",
            (("productFamily", "AWS Backup Storage"),),
            "GB-Mo",
            "GB-month",
            1.0,
        ),
        (
            "s3.standard_gb_month",
            "AmazonS3",
            (("storageClass", "General Purpose"), ("volumeType", "Standard")),
            "GB-Mo",
            "GB-month",
            1.0,
        ),
    ]
    found += [
        PriceQuery(key, "", service, filters, unit, snap_unit, scale)
        for key, service, filters, unit, snap_unit, scale in simple
    ]
    found += [
        PriceQuery(
            "cloudwatch.alarm_month",
            "standard",
            "AmazonCloudWatch",
            (("productFamily", "Alarm"), ("alarmType", "Standard")),
            "Alarms",
            "alarm-month",
        ),
        PriceQuery(
            "backup.cross_region_gb",
            "",
            "AWSDataTransfer",
            (("transferType", "InterRegion Outbound"),),
            "GB",
            "GB transferred",
            region_field="fromRegionCode",
        ),
        PriceQuery(
            "transfer.internet_out_gb",
            "",
            "AWSDataTransfer",
            (("transferType", "AWS Outbound"), ("toLocation", "External")),
            "GB",
            "GB",
            region_field="fromRegionCode",
        ),
    ]
    return found


def snapshot_regions() -> list[str]:
    """Every location's region and backup destination, plus "global" (Route 53)."""
    from provisioner.regions import catalogue

    cat = catalogue()
    regions = {loc.region for loc in cat.locations.values()}
    regions |= {loc.backup.region for loc in cat.locations.values()}
    return [*sorted(regions), "global"]


def _first_tier_prices(item: dict[str, Any], unit: str) -> list[float]:
    prices: list[float] = []
    for term in (item.get("terms") or {}).get("OnDemand", {}).values():
        for dim in (term.get("priceDimensions") or {}).values():
            if dim.get("unit") != unit or str(dim.get("beginRange", "0")) != "0":
                continue
            usd = (dim.get("pricePerUnit") or {}).get("USD")
            if usd is not None:
                prices.append(float(usd))
    return prices


def _get_products(client: Any, query: PriceQuery, region: str) -> list[dict[str, Any]]:
    filters = [{"Type": "TERM_MATCH", "Field": f, "Value": v} for f, v in query.filters]
    if query.region_field:
        filters.insert(0, {"Type": "TERM_MATCH", "Field": query.region_field, "Value": region})
    items: list[dict[str, Any]] = []
    paginator = client.get_paginator("get_products")
    for page in paginator.paginate(
        ServiceCode=query.service, Filters=filters, FormatVersion="aws_v1", MaxResults=MAX_RESULTS
    ):
        items += [json.loads(text) for text in page.get("PriceList", [])]
    return items


def fetch_price(client: Any, query: PriceQuery, region: str) -> Price | str:
    """The price of `query` in `region`, or why there is none ("missing" / "ambiguous")."""
    items = _get_products(client, query, region)
    candidates: dict[float, dict[str, Any]] = {}
    for item in items:
        for usd in _first_tier_prices(item, query.unit):
            if usd > 0:
                candidates.setdefault(usd, item)
    if not candidates:
        return "missing"
    if len(candidates) > 1:
        return "ambiguous"
    usd, item = next(iter(candidates.items()))
    sku = (item.get("product") or {}).get("sku", "")
    published = str(item.get("publicationDate", ""))[:10]
    return Price(
        region=region,
        key=query.key,
        variant=query.variant,
        usd=usd * query.scale,
        unit=query.snapshot_unit,
        source=f"{API_SOURCE} {query.service} sku {sku}",
        date=published or "unknown",
    )


def refresh_snapshot(
    old: PriceSnapshot,
    regions: Sequence[str],
    client: Any = None,
    on_query: Callable[[str, str], None] | None = None,
    today: str | None = None,
) -> tuple[PriceSnapshot, dict[str, Any]]:
    """`old` with every price the API returns for `regions` replaced; and what happened."""
    from datetime import UTC, datetime

    from provisioner.audit.clients import Clients, aws_errors

    if client is None:
        client = Clients().client("pricing", PRICING_REGION)
    found: dict[tuple[str, str, str], Price] = {}
    missing: list[str] = []
    ambiguous: list[str] = []
    for region in regions:
        for query in queries(region):
            if on_query is not None:
                on_query(region, query.key + (f"[{query.variant}]" if query.variant else ""))
            with aws_errors():
                result = fetch_price(client, query, region)
            label = f"{region} {query.key}" + (f"[{query.variant}]" if query.variant else "")
            if isinstance(result, Price):
                found[(region, query.key, query.variant)] = result
            else:
                (missing if result == "missing" else ambiguous).append(label)
    date = today or datetime.now(UTC).date().isoformat()
    all_regions: Iterable[str] = dict.fromkeys([*old.regions, *regions])
    method = (
        f"{API_SOURCE} for {', '.join(regions)} on {date}; figures it did not return are"
        " kept from the previous snapshot with their own source and date"
    )
    snapshot = build_snapshot(merge(old, found), all_regions, date, method)
    return snapshot, {
        "found": len(found),
        "missing": len(missing),
        "ambiguous": len(ambiguous),
        "missing_prices": missing,
        "ambiguous_prices": ambiguous,
    }
