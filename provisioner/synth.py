"""The offline plan: run the tenant program under Pulumi's mock runtime and record the graph.

No Pulumi CLI, credentials or network: the mocks answer the program's lookups (availability
zones, account id, machine image) from regions.yaml, and every resource's inputs are recorded
as the provider would receive them (camelCase, numbers as floats, secrets as "[secret]").

Mock outputs are deterministic so two plans of the same spec are identical and diff cleanly:
- a resource's id is `{name}-id` (its Pulumi logical name);
- its ARN is `arn:aws:{service}:{region}:{account}:{kind}/{name}-id` for regional resources,
  `arn:aws:iam::{account}:{kind}/{name}` for IAM and `arn:aws:s3:::{bucket}` for buckets;
  {region} is the resource's effective region (its `region` input, else the tenant's region);
- names the provider would generate (`name`, `bucket`) are `{name}-generated`.
Rules that follow references (a listener's certificate, a volume's key) resolve them by these
outputs, which `provisioner.synth.resource_outputs` also exposes.

The mock runtime is not thread-safe: plan many tenants in one process one after another (the
root resource is reset before each run), or in several processes.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from provisioner.regions import Catalogue, catalogue
from provisioner.spec import TenantSpec

PROJECT = "tenant"
GLOBAL = "global"  # region shown for resources of global services (IAM, Route 53)
SECRET = "[secret]"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
_SIG_KEY = "4dabf18193072939515e22adb298388d"
_GLOBAL_MODULES = ("aws:iam/", "aws:route53/")

_IAM_KINDS = {"role": "role", "instanceProfile": "instance-profile", "policy": "policy"}


def _service_and_kind(type_token: str) -> tuple[str, str]:
    """`aws:rds/instance:Instance` -> ("rds", "instance")."""
    module = type_token.split(":")[1]
    service, _, kind = module.partition("/")
    return service, kind


def mock_arn(type_token: str, name: str, region: str, account: str, inputs: dict[str, Any]) -> str:
    service, kind = _service_and_kind(type_token)
    if service == "iam":
        return f"arn:aws:iam::{account}:{_IAM_KINDS.get(kind, kind)}/{inputs.get('name', name)}"
    if service == "s3" and kind == "bucket":
        return f"arn:aws:s3:::{name}-generated"
    if service == "cloudwatch" and kind == "logGroup":
        return f"arn:aws:logs:{region}:{account}:log-group:{inputs.get('name', name)}"
    if service == "ebs":
        service, kind = "ec2", "volume"
    return f"arn:aws:{service}:{region}:{account}:{kind.lower()}/{name}-id"


def _strip_secrets(value: Any) -> Any:
    """Replace the mock runtime's secret wrappers by "[secret]", recursively."""
    if isinstance(value, dict):
        if value.get(_SIG_KEY) == _SECRET_SIG:
            return SECRET
        return {k: _strip_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip_secrets(v) for v in value]
    return value


@dataclass
class _Recorded:
    urn: str
    type: str
    name: str
    parent: str
    custom: bool
    inputs: dict[str, Any]


def _make_mocks(spec: TenantSpec, regions: Catalogue) -> Any:
    """Build the Mocks and monitor classes lazily: importing pulumi costs ~0.3 s."""
    import pulumi
    from pulumi.runtime.mocks import MockMonitor

    account = regions.offline_account_id

    class OfflineMocks(pulumi.runtime.Mocks):
        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
            inputs = dict(args.inputs)
            region = str(inputs.get("region") or spec.region)
            rid = f"{args.name}-id"
            outputs: dict[str, Any] = {**inputs, "id": rid}
            outputs["arn"] = mock_arn(args.typ, args.name, region, account, inputs)
            outputs.setdefault("name", f"{args.name}-generated")
            service, kind = _service_and_kind(args.typ)
            if service == "kms":
                outputs["keyId"] = rid
            elif service == "s3" and kind == "bucket":
                outputs["bucket"] = f"{args.name}-generated"
                outputs["id"] = outputs["bucket"]
            elif service == "ec2" and kind == "eip":
                outputs["allocationId"] = rid
            elif service == "rds" and kind == "instance":
                outputs["address"] = f"{inputs.get('identifier', args.name)}.{region}.rds.example"
                outputs["masterUserSecrets"] = [
                    {
                        "secretArn": f"arn:aws:secretsmanager:{region}:{account}:secret:"
                        f"rds!{args.name}-id",
                        "kmsKeyId": inputs.get("masterUserSecretKmsKeyId", ""),
                        "secretStatus": "active",
                    }
                ]
            elif service == "lb" and kind == "loadBalancer":
                outputs["dnsName"] = f"{args.name}.{region}.elb.example"
                outputs["zoneId"] = "ZLBEXAMPLE"
            elif service == "acm" and kind == "certificate":
                domain = inputs.get("domainName", "")
                outputs["domainValidationOptions"] = [
                    {
                        "domainName": domain,
                        "resourceRecordName": f"_validation.{domain}.",
                        "resourceRecordType": "CNAME",
                        "resourceRecordValue": "_validation.acm-validations.aws.",
                    }
                ]
            elif service == "route53" and kind == "record":
                outputs["fqdn"] = inputs.get("name", args.name)
            return rid, outputs

        def call(self, args: pulumi.runtime.MockCallArgs) -> Any:
            token = args.token
            if token == "aws:index/getCallerIdentity:getCallerIdentity":
                return {
                    "accountId": account,
                    "arn": f"arn:aws:iam::{account}:user/offline-plan",
                    "userId": "OFFLINE",
                    "id": account,
                }
            if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
                zones = list(spec.location.zones)
                return {"names": zones, "zoneIds": [f"zone-{z}" for z in zones]}
            if token == "aws:ec2/getAmi:getAmi":
                image = spec.location.offline_image_id
                return {"id": image, "imageId": image, "architecture": "x86_64"}
            if token == "aws:acm/getCertificate:getCertificate":  # the region's wildcard
                region = str(args.args.get("region") or spec.region)
                domain = str(args.args.get("domain", ""))
                name = domain.removeprefix("*.")
                arn = f"arn:aws:acm:{region}:{account}:certificate/{name}-wildcard"
                return {"arn": arn, "domain": domain, "status": "ISSUED", "id": arn}
            raise NotImplementedError(f"offline plan has no answer for invoke {token}")

    class RecordingMonitor(MockMonitor):
        """The mock monitor, also remembering each resource's parent and inputs."""

        def __init__(self, mocks: Any) -> None:
            super().__init__(mocks)
            self.recorded: list[_Recorded] = []

        def make_urn(self, parent: str, type_: str, name: str) -> str:
            """URNs as the real engine makes them (the mock keeps only the parent's last type):
            the parent's whole type chain, without the root stack's type."""
            from pulumi.runtime.settings import get_project, get_stack

            if parent:
                qualified = parent.split("::")[2]
                if qualified != "pulumi:pulumi:Stack":
                    type_ = f"{qualified}${type_}"
            return "urn:pulumi:" + "::".join([get_stack(), get_project(), type_, name])

        def RegisterResource(self, request: Any) -> Any:  # the gRPC method name
            from pulumi.runtime import rpc

            response = super().RegisterResource(request)
            if request.type != "pulumi:pulumi:Stack":
                self.recorded.append(
                    _Recorded(
                        urn=response.urn,
                        type=request.type,
                        name=request.name,
                        parent=request.parent,
                        custom=bool(request.custom),
                        inputs=_strip_secrets(rpc.deserialize_properties(request.object)),
                    )
                )
            return response

    mocks = OfflineMocks()
    return mocks, RecordingMonitor(mocks)


def _effective_region(rec: _Recorded, spec: TenantSpec) -> str:
    if rec.type.startswith(_GLOBAL_MODULES):
        return GLOBAL
    if not rec.custom:
        return spec.region  # components live where their tenant lives
    return str(rec.inputs.get("region") or spec.region)


@contextlib.contextmanager
def _without_source_positions() -> Iterator[None]:
    """Skip the SDK's per-resource stack walk while planning offline.

    For every resource the SDK extracts the Python stack (`traceback.extract_stack`) so the
    engine can show source positions in diagnostics; the mock monitor throws them away, and the
    walk is about a third of an offline plan's time. Restored afterwards, so anything else in
    the process sees the SDK unchanged. (A private hook of pulumi.runtime.resource: if it moves,
    plans are only slower, never different.)
    """
    import pulumi.runtime.resource as sdk_resource
    from pulumi.runtime.proto import source_pb2

    original = getattr(sdk_resource, "_get_stack_trace", None)
    if original is None:
        yield
        return
    sdk_resource._get_stack_trace = source_pb2.StackTrace
    try:
        yield
    finally:
        sdk_resource._get_stack_trace = original


_LOOPS: list[asyncio.AbstractEventLoop] = []  # the loops plans ran on, closed at exit


def _event_loop() -> asyncio.AbstractEventLoop:
    """This thread's event loop for the mock runtime, made on first use (a worker's planning
    thread has none), and closed before the interpreter tears down its sockets, or Python prints
    "Exception ignored ... __del__"."""
    policy = asyncio.get_event_loop_policy()
    try:
        loop = policy.get_event_loop()
    except RuntimeError:  # not the main thread, and no loop yet
        loop = policy.new_event_loop()
        policy.set_event_loop(loop)
    if loop not in _LOOPS:
        if not _LOOPS:
            atexit.register(_close_loops)
        _LOOPS.append(loop)
    return loop


def _close_loops() -> None:
    for loop in _LOOPS:
        if not loop.is_running() and not loop.is_closed():
            loop.close()


def _run(
    spec: TenantSpec, regions: Catalogue, app_zone: str | None, suspended: bool
) -> list[_Recorded]:
    import pulumi
    from pulumi.runtime.settings import ROOT
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    from stacks.tenant_stack import tenant_program

    _event_loop()
    mocks, monitor = _make_mocks(spec, regions)
    # Without this every run after the first reuses the first run's root stack resource.
    ROOT.set(None)
    pulumi.runtime.set_mocks(
        mocks, project=PROJECT, stack=spec.stack_name, preview=False, monitor=monitor
    )

    def program() -> None:
        tenant_program(spec, regions, app_zone=app_zone, suspended=suspended)

    with _without_source_positions():
        _sync_await(run_pulumi_func(program))
    return list(monitor.recorded)


def synth_plan(
    spec: TenantSpec,
    regions: Catalogue | None = None,
    app_zone: str | None = None,
    suspended: bool = False,
) -> dict[str, Any]:
    """The plan JSON of one tenant (DESIGN.md, "Contracts worth keeping stable").

    `app_zone` is the engine's zone override (another zone of the same region); `suspended`
    plans the tenant as the engine suspends it."""
    regions = regions or catalogue()
    recorded = _run(spec, regions, app_zone, suspended)
    resources = [
        {
            "urn": rec.urn,
            "type": rec.type,
            "name": rec.name,
            "region": _effective_region(rec, spec),
            "parent": rec.parent,
            "inputs": rec.inputs,
        }
        for rec in recorded
    ]
    resources.sort(key=lambda r: str(r["urn"]))
    return {"tenant": spec.to_dict(), "resources": resources}
