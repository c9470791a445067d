"""`prices refresh` against botocore's Stubber: the GetProducts requests are checked against the
pricing service model (parameter validation), the stubbed answers too (Stubber.add_response
validates them against the model's output shape), and the PriceList JSON is read as documented.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from typer.testing import CliRunner

from provisioner.audit.clients import AwsRefused
from provisioner.cli.main import app
from provisioner.cost.pricelist import (
    API_SOURCE,
    PriceQuery,
    fetch_price,
    queries,
    refresh_snapshot,
    snapshot_regions,
)
from provisioner.cost.snapshot import load_snapshot, write_snapshot

EC2_QUERY = next(q for q in queries("us-east-1") if q.key == "ec2.instance_hour")


def product(sku: str, usd: str, unit: str = "Hrs", begin: str = "0") -> str:
    """One PriceList entry as GetProducts returns it: a JSON string."""
    return json.dumps(
        {
            "product": {"sku": sku, "productFamily": "Compute Instance", "attributes": {}},
            "serviceCode": "AmazonEC2",
            "publicationDate": "2026-11-20T21:42:05Z",
            "version": "20261120214205",
            "terms": {
                "OnDemand": {
                    f"{sku}.JRTCKXETXF": {
                        "sku": sku,
                        "offerTermCode": "JRTCKXETXF",
                        "effectiveDate": "2026-11-01T00:00:00Z",
                        "priceDimensions": {
                            f"{sku}.JRTCKXETXF.6YS6EN2CT7": {
                                "unit": unit,
                                "beginRange": begin,
                                "endRange": "Inf",
                                "description": "test",
                                "pricePerUnit": {"USD": usd},
                            }
                        },
                    }
                }
            },
        }
    )


@pytest.fixture
def client() -> Iterator[tuple[Any, Stubber]]:
    made = boto3.client(
        "pricing",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    with Stubber(made) as stubber:
        yield made, stubber
        stubber.assert_no_pending_responses()


def _expect(stubber: Stubber, query: PriceQuery, region: str, pages: list[list[str]]) -> None:
    filters = [{"Type": "TERM_MATCH", "Field": f, "Value": v} for f, v in query.filters]
    if query.region_field:
        filters.insert(0, {"Type": "TERM_MATCH", "Field": query.region_field, "Value": region})
    for number, page in enumerate(pages):
        response: dict[str, Any] = {"FormatVersion": "aws_v1", "PriceList": page}
        if number < len(pages) - 1:
            response["NextToken"] = f"page-{number + 1}"
        params: dict[str, Any] = {
            "ServiceCode": query.service,
            "Filters": filters,
            "FormatVersion": "aws_v1",
            "MaxResults": 100,
        }
        if number:
            params["NextToken"] = f"page-{number}"
        stubber.add_response("get_products", response, params)


def test_a_price_is_read_from_the_first_tier_of_the_on_demand_terms(client: Any) -> None:
    made, stubber = client
    _expect(stubber, EC2_QUERY, "eu-central-1", [[product("SKU1", "0.0960000000")]])
    price = fetch_price(made, EC2_QUERY, "eu-central-1")
    assert not isinstance(price, str)
    assert (price.region, price.key, price.variant) == ("eu-central-1", EC2_QUERY.key, "m6i.xlarge")
    assert price.usd == 0.096 and price.unit == "hour"
    assert price.source == f"{API_SOURCE} AmazonEC2 sku SKU1" and price.date == "2026-11-20"


def test_pages_are_followed_and_the_scale_converts_units(client: Any) -> None:
    made, stubber = client
    query = next(q for q in queries("us-east-1") if q.key == "kms.requests_10k")
    page_one = [product("A", "0.0000030000", unit="Requests", begin="20000")]  # a later tier
    page_two = [product("B", "0.0000030000", unit="Requests")]
    _expect(stubber, query, "us-east-1", [page_one, page_two])
    price = fetch_price(made, query, "us-east-1")
    assert not isinstance(price, str)
    assert price.usd == pytest.approx(0.03) and price.unit == "10,000 requests"


def test_no_product_is_missing_and_two_prices_are_ambiguous(client: Any) -> None:
    made, stubber = client
    _expect(stubber, EC2_QUERY, "us-east-1", [[]])
    assert fetch_price(made, EC2_QUERY, "us-east-1") == "missing"
    _expect(stubber, EC2_QUERY, "us-east-1", [[product("A", "0.1"), product("B", "0.2")]])
    assert fetch_price(made, EC2_QUERY, "us-east-1") == "ambiguous"
    _expect(stubber, EC2_QUERY, "us-east-1", [[product("A", "0.0"), product("B", "0.2", "GB")]])
    assert fetch_price(made, EC2_QUERY, "us-east-1") == "missing"  # free or another unit


def test_refresh_replaces_what_the_api_returns_and_keeps_the_rest(
    client: Any, tmp_path: Path
) -> None:
    made, stubber = client
    old = load_snapshot()
    region = "ap-south-2"
    found_key = "ec2.instance_hour"
    for query in queries(region):
        hit = query.key == found_key and query.variant == "t3.small"
        _expect(stubber, query, region, [[product("T3S", "0.0112")] if hit else []])
    snapshot, report = refresh_snapshot(old, [region], client=made, today="2026-12-01")
    assert report["found"] == 1 and report["ambiguous"] == 0
    assert report["missing"] == len(queries(region)) - 1
    new = snapshot.lookup(region, found_key, "t3.small")
    assert new is not None and new.usd == 0.0112 and new.source.startswith(API_SOURCE)
    kept = old.lookup("us-east-1", "elb.alb_hour")
    assert kept is not None and snapshot.lookup("us-east-1", "elb.alb_hour") == kept
    assert snapshot.prices_date == "2026-12-01" and region in snapshot.regions
    path = tmp_path / "prices.json"
    write_snapshot(snapshot, path)
    assert load_snapshot(path).lookup(region, found_key, "t3.small") == new


def test_an_api_error_stops_the_refresh_with_aws_words(client: Any) -> None:
    made, stubber = client
    stubber.add_client_error("get_products", "InvalidParameterException", "bad filter")
    with pytest.raises(AwsRefused, match="InvalidParameterException: bad filter"):
        refresh_snapshot(load_snapshot(), ["us-east-1"], client=made)


def test_every_query_is_a_valid_get_products_request(client: Any) -> None:
    """botocore validates each request against the pricing model before the Stubber answers."""
    made, stubber = client
    for region in ("us-east-1", "global"):
        for query in queries(region):
            stubber.add_response("get_products", {"PriceList": []}, {
                "ServiceCode": query.service, "Filters": ANY, "FormatVersion": "aws_v1",
                "MaxResults": 100,
            })  # fmt: skip
            assert fetch_price(made, query, region) == "missing"


def test_the_regions_refreshed_by_default_are_every_location_and_backup_region() -> None:
    regions = snapshot_regions()
    assert {"us-east-1", "us-west-2", "ap-southeast-4", "ap-south-2", "global"} <= set(regions)


def test_the_cli_refresh_writes_the_file_through_the_shared_client_factory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, client: Any
) -> None:
    made, stubber = client
    asked: list[tuple[str, str]] = []

    def fake_client(self: Any, service: str, region: str) -> Any:
        asked.append((service, region))
        return made

    monkeypatch.setattr("provisioner.audit.clients.Clients.client", fake_client)
    for query in queries("global"):
        _expect(stubber, query, "global", [[]])
    out = tmp_path / "prices.json"
    result = CliRunner().invoke(
        app, ["prices", "refresh", "--region", "global", "--out", str(out), "-o", "json"]
    )
    assert result.exit_code == 0, result.output
    assert asked == [("pricing", "us-east-1")]
    summary = json.loads(result.stdout)
    assert summary["missing"] == len(queries("global")) and summary["file"] == str(out)
    assert len(load_snapshot(out).prices) == len(load_snapshot().prices)


def test_the_cli_refuses_a_region_it_does_not_know() -> None:
    result = CliRunner().invoke(app, ["prices", "refresh", "--region", "mars-1"])
    assert result.exit_code == 2 and "--region mars-1: not a region" in result.output
