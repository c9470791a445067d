"""Whether a stack exists, asked of the backend without the Pulumi CLI: a local directory and an
S3 bucket behind moto's server (real HTTP, real boto3)."""

from __future__ import annotations

import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from provisioner.engine import Engine, EngineSettings
from provisioner.engine.backends import stack_exists
from provisioner.engine.settings import parse_backend
from provisioner.errors import EnvironmentProblem, PulumiCliMissing, StackNotFound
from provisioner.spec import TenantSpec


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    urllib.request.urlopen(urllib.request.Request(f"http://{host}:{port}/moto-api/reset",
                                                  method="POST")).read()  # fmt: skip
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(moto_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    name = f"state-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", region_name="us-east-1", endpoint_url=moto_url).create_bucket(Bucket=name)
    return name


def _put(moto_url: str, bucket: str, key: str) -> None:
    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=moto_url)
    s3.put_object(Bucket=bucket, Key=key, Body=b"{}")


def test_local_backend(tmp_path: Path) -> None:
    backend = parse_backend((tmp_path / "state").as_uri())
    assert not stack_exists(backend, "tenant-acme")  # no directory at all
    stacks = tmp_path / "state" / ".pulumi" / "stacks"
    (stacks / "tenant").mkdir(parents=True)
    (stacks / "tenant" / "tenant-acme.json.bak").write_text("{}")  # a backup is not a stack
    (stacks / "tenant" / "tenant-acmecorp.json").write_text("{}")  # nor is a longer name
    assert not stack_exists(backend, "tenant-acme")
    (stacks / "tenant" / "tenant-acme.json").write_text("{}")
    assert stack_exists(backend, "tenant-acme")
    legacy = parse_backend((tmp_path / "legacy").as_uri())
    (tmp_path / "legacy" / ".pulumi" / "stacks").mkdir(parents=True)
    (tmp_path / "legacy" / ".pulumi" / "stacks" / "tenant-acme.json.gz").write_bytes(b"")
    assert stack_exists(legacy, "tenant-acme")


def test_s3_backend(moto_url: str, bucket: str) -> None:
    url = f"s3://{bucket}/teams/crm?region=us-east-1&endpoint={moto_url}"
    backend = parse_backend(url)
    assert not stack_exists(backend, "tenant-acme")
    _put(moto_url, bucket, ".pulumi/stacks/tenant/tenant-acme.json")  # outside the prefix
    _put(moto_url, bucket, "teams/crm/.pulumi/stacks/tenant/tenant-acme.json.bak")
    assert not stack_exists(backend, "tenant-acme")
    _put(moto_url, bucket, "teams/crm/.pulumi/stacks/tenant/tenant-acme.json")
    assert stack_exists(backend, "tenant-acme")
    # At the bucket's root, without a prefix.
    assert stack_exists(parse_backend(f"s3://{bucket}?region=us-east-1&endpoint={moto_url}"),
                        "tenant-acme")  # fmt: skip


def test_an_unreadable_s3_backend_is_an_environment_problem(moto_url: str, bucket: str) -> None:
    missing = parse_backend(f"s3://no-such-{bucket}/x?region=us-east-1&endpoint={moto_url}")
    with pytest.raises(EnvironmentProblem, match="NoSuchBucket"):
        stack_exists(missing, "tenant-acme")


def test_destroy_without_the_cli(
    moto_url: str, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No stack: StackNotFound without the CLI. A stack: the CLI is needed (exit 3)."""
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))
    spec = TenantSpec.create("acme", "de", "trial")
    url = f"s3://{bucket}/p?region=us-east-1&endpoint={moto_url}"
    env = {"PATH": str(tmp_path / "no-bin"), "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing"}  # fmt: skip
    settings = EngineSettings.build(
        tmp_path / "home", env, backend=url, secrets_provider="awskms://alias/x?region=us-east-1"
    )
    engine = Engine(settings, env=env)
    with pytest.raises(StackNotFound, match="without the Pulumi CLI"):
        engine.destroy(spec)
    _put(moto_url, bucket, "p/.pulumi/stacks/tenant/tenant-acme.json")
    with pytest.raises(PulumiCliMissing):
        engine.destroy(spec)
