"""The offline plan: run the tenant program under Pulumi's mock runtime and record the graph.

No Pulumi CLI, credentials or network: the mocks answer the program's lookups (availability
zones, account id, machine image) from regions.yaml, and every resource's inputs are recorded
as the provider would receive them (camelCase, numbers as floats, secrets as "[secret]").

Mock outputs are deterministic so two plans of the same spec are identical and diff cleanly:
- a resource's id is `{name}-id`, where {name} is its identity: its Pulumi logical name, or, for
  a resource with aliases, the name of its first alias (own aliases first, then those inherited
  from its parents' aliases): a resource renamed with an alias keeps the id, ARN and generated
  names it had, so resources that reference it do not show false updates;
- its ARN is `arn:aws:{service}:{region}:{account}:{kind}/{name}-id` for regional resources
  ({account} is the tenant account, or the account an explicit provider assumes a role in:
  the backup account's resources carry the backup account's id),
  `arn:aws:iam::{account}:{kind}/{name}` for IAM and `arn:aws:s3:::{bucket}` for buckets;
  {region} is the resource's effective region (its `region` input, else the tenant's region);
- names the provider would generate (`name`, `bucket`) are `{name}-generated`.
Rules that follow references (a listener's certificate, a volume's key) resolve them by these
outputs, which `provisioner.synth.resource_outputs` also exposes.

Aliases (`ResourceOptions(aliases=[...])`): each resource's plan entry lists, under `aliases`
(present only when it has any), every URN Pulumi would also match it by in the stack's state: its
own aliases resolved as the engine resolves alias specs (unset name, type, stack, project and
parent default to the resource's own), and those it inherits from aliases of its parents (the
child's name re-prefixed when it starts with the parent's name, as the SDK's
`inherited_child_alias` does).

Resources with `retain_on_delete` carry `"retainOnDelete": true` in the plan: removed from the
program, Pulumi drops them from the state and leaves them in AWS (the fleet diff says so).
Resources with `ignore_changes` list those inputs under `ignoreChanges`: Pulumi keeps their
values from the state, so the fleet diff does not count a change there.

The mock runtime is not thread-safe: plan many tenants in one process one after another (the
root resource is reset before each run), or in several processes.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from provisioner.regions import Catalogue, Location, catalogue
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
    if service == "sns" and kind == "topic":
        return f"arn:aws:sns:{region}:{account}:{inputs.get('name', name)}"
    if service == "ebs":
        service, kind = "ec2", "volume"
    return f"arn:aws:{service}:{region}:{account}:{kind.lower()}/{name}-id"


def asset_digest(value: Any) -> str:
    """`sha256:<hex>` of an asset's or archive's content (text assets by their text, file assets
    by their bytes, archives by their members' names and digests): what the plan records instead
    of the content, so a plan is small, the same on every machine, and changes when code does."""
    import hashlib

    from pulumi.asset import AssetArchive, FileAsset, RemoteAsset, StringAsset

    digest = hashlib.sha256()
    if isinstance(value, StringAsset):
        digest.update(value.text.encode())
    elif isinstance(value, FileAsset):
        with open(value.path, "rb") as handle:
            digest.update(handle.read())
    elif isinstance(value, RemoteAsset):
        digest.update(value.uri.encode())
    elif isinstance(value, AssetArchive):
        for name in sorted(value.assets):
            digest.update(f"{name}\0{asset_digest(value.assets[name])}\0".encode())
    else:  # a file or remote archive: named by where it is
        digest.update(str(getattr(value, "path", getattr(value, "uri", ""))).encode())
    return f"sha256:{digest.hexdigest()}"


def _strip_secrets(value: Any) -> Any:
    """Replace the mock runtime's secret wrappers by "[secret]", and assets and archives by
    their digest, recursively."""
    from pulumi.asset import Archive, Asset

    if isinstance(value, (Asset, Archive)):
        return asset_digest(value)
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
    aliases: list[str]
    retain_on_delete: bool = False
    ignore_changes: list[str] = field(default_factory=list)


def create_urn(stack: str, project: str, parent_urn: str, type_: str, name: str) -> str:
    """A URN as the engine makes it: the parent's whole type chain (without the root stack's
    type) joined by `$` before the resource's own type."""
    if parent_urn:
        qualified = parent_urn.split("::")[2]
        if qualified != "pulumi:pulumi:Stack":
            type_ = f"{qualified}${type_}"
    return "urn:pulumi:" + "::".join([stack, project, type_, name])


def urn_name(urn: str) -> str:
    return urn.split("::", 3)[3]


def urn_type(urn: str) -> str:
    """The resource's own type (the last of the qualified type chain)."""
    return urn.split("::")[2].split("$")[-1]


@dataclass(frozen=True)
class AliasSpec:
    """One alias as the program gave it: a whole URN, or parts defaulting to the resource's."""

    urn: str = ""
    name: str = ""
    type: str = ""
    stack: str = ""
    project: str = ""
    parent_urn: str = ""
    no_parent: bool = False


def resolve_aliases(
    stack: str, project: str, urn: str, parent: str, specs: list[AliasSpec],
    parent_aliases: list[str],
) -> list[str]:
    """Every URN a resource is also known by: its own aliases, then for each alias of its parent
    the resource (and each own alias) re-parented under it. Order kept, duplicates and the
    resource's own URN dropped."""
    name, type_ = urn_name(urn), urn_type(urn)
    own: list[str] = []
    for spec in specs:
        if spec.urn:
            own.append(spec.urn)
            continue
        spec_parent = "" if spec.no_parent else (spec.parent_urn or parent)
        own.append(create_urn(spec.stack or stack, spec.project or project, spec_parent,
                              spec.type or type_, spec.name or name))
    inherited: list[str] = []
    parent_name = urn_name(parent) if parent else ""
    for parent_alias in parent_aliases:
        alias_parent_name = urn_name(parent_alias)
        for child in [urn, *own]:
            child_name, child_type = urn_name(child), urn_type(child)
            if parent_name and child_name.startswith(parent_name):
                child_name = alias_parent_name + child_name[len(parent_name):]
            a_stack, a_project = parent_alias.removeprefix("urn:pulumi:").split("::")[:2]
            inherited.append(create_urn(a_stack, a_project, parent_alias, child_type, child_name))
    seen = {urn}
    result = []
    for alias in [*own, *inherited]:
        if alias not in seen:
            seen.add(alias)
            result.append(alias)
    return result


def _alias_specs(request: Any) -> list[AliasSpec]:
    """The alias specs of a RegisterResource request (the mock monitor supports alias specs, so
    the SDK sends them unexpanded)."""
    specs = []
    for alias in request.aliases:
        if alias.WhichOneof("alias") == "urn":
            specs.append(AliasSpec(urn=alias.urn))
        else:
            s = alias.spec
            specs.append(AliasSpec(name=s.name, type=s.type, stack=s.stack, project=s.project,
                                   parent_urn=s.parentUrn, no_parent=bool(s.noParent)))
    specs += [AliasSpec(urn=u) for u in getattr(request, "aliasURNs", [])]
    return specs


def _make_mocks(location: Location, regions: Catalogue) -> Any:
    """Build the Mocks and monitor classes lazily: importing pulumi costs ~0.3 s.

    Everything the mocks answer comes from the location: a tenant's and its region's
    platform stack are planned alike."""
    import threading

    import pulumi
    from pulumi.runtime.mocks import MockMonitor

    tenant_account = regions.offline_account_id
    provider_accounts: dict[str, str] = {}  # explicit provider's id -> the account it acts in
    # The identity of the resource being registered on this thread (the SDK registers from
    # executor threads; the monitor calls new_resource on the registering thread).
    current = threading.local()

    class OfflineMocks(pulumi.runtime.Mocks):
        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
            inputs = dict(args.inputs)
            name = getattr(current, "identity", None) or args.name
            rid = f"{name}-id"
            if args.typ == "pulumi:providers:aws":
                # A provider that assumes a role in another account (the backup account):
                # what it creates lives there, and the mock ARNs say so.
                roles = inputs.get("assumeRoles") or []
                if isinstance(roles, str):  # provider configuration arrives JSON-encoded
                    roles = json.loads(roles)
                first = roles[0] if roles else {}
                role_arn = str(first.get("roleArn") or first.get("role_arn") or "")
                if role_arn.count(":") >= 5 and role_arn.split(":")[4]:
                    provider_accounts[rid] = role_arn.split(":")[4]
                return rid, {**inputs, "id": rid}
            account = tenant_account
            if args.provider:
                account = provider_accounts.get(args.provider.rsplit("::", 1)[-1], tenant_account)
            region = str(inputs.get("region") or location.region)
            outputs: dict[str, Any] = {**inputs, "id": rid}
            outputs["arn"] = mock_arn(args.typ, name, region, account, inputs)
            outputs.setdefault("name", f"{name}-generated")
            service, kind = _service_and_kind(args.typ)
            if service == "kms":
                outputs["keyId"] = rid
            elif service == "s3" and kind == "bucket":
                outputs["bucket"] = f"{name}-generated"
                outputs["id"] = outputs["bucket"]
            elif service == "ec2" and kind == "eip":
                outputs["allocationId"] = rid
            elif service == "rds" and kind == "instance":
                outputs["address"] = f"{inputs.get('identifier', name)}.{region}.rds.example"
                outputs["resourceId"] = f"db-{name}-id"
                outputs["masterUserSecrets"] = [
                    {
                        "secretArn": f"arn:aws:secretsmanager:{region}:{account}:secret:"
                        f"rds!{name}-id",
                        "kmsKeyId": inputs.get("masterUserSecretKmsKeyId", ""),
                        "secretStatus": "active",
                    }
                ]
            elif service == "lb" and kind == "loadBalancer":
                outputs["dnsName"] = f"{name}.{region}.elb.example"
                outputs["zoneId"] = "ZLBEXAMPLE"
                outputs["arnSuffix"] = f"app/{args.name}/{rid}"
            elif service == "lb" and kind == "targetGroup":
                outputs["arnSuffix"] = f"targetgroup/{args.name}/{rid}"
            elif service == "acm" and kind == "certificate":
                domains = [inputs.get("domainName", ""),
                           *(inputs.get("subjectAlternativeNames") or [])]
                outputs["domainValidationOptions"] = [
                    {
                        "domainName": domain,
                        "resourceRecordName": f"_validation.{domain}.",
                        "resourceRecordType": "CNAME",
                        "resourceRecordValue": "_validation.acm-validations.aws.",
                    }
                    for domain in domains
                ]
            elif service == "route53" and kind == "record":
                outputs["fqdn"] = inputs.get("name", name)
            return rid, outputs

        def call(self, args: pulumi.runtime.MockCallArgs) -> Any:
            token = args.token
            if token == "aws:index/getCallerIdentity:getCallerIdentity":
                return {
                    "accountId": tenant_account,
                    "arn": f"arn:aws:iam::{tenant_account}:user/offline-plan",
                    "userId": "OFFLINE",
                    "id": tenant_account,
                }
            if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
                zones = list(location.zones)
                return {"names": zones, "zoneIds": [f"zone-{z}" for z in zones]}
            if token == "aws:ec2/getAmi:getAmi":
                image = location.offline_image_id
                return {"id": image, "imageId": image, "architecture": "x86_64"}
            if token == "aws:acm/getCertificate:getCertificate":  # the region's wildcard
                region = str(args.args.get("region") or location.region)
                domain = str(args.args.get("domain", ""))
                name = domain.removeprefix("*.")
                arn = f"arn:aws:acm:{region}:{tenant_account}:certificate/{name}-wildcard"
                return {"arn": arn, "domain": domain, "status": "ISSUED", "id": arn}
            raise NotImplementedError(f"offline plan has no answer for invoke {token}")

    class RecordingMonitor(MockMonitor):
        """The mock monitor, also remembering each resource's parent and inputs."""

        def __init__(self, mocks: Any) -> None:
            super().__init__(mocks)
            self.recorded: list[_Recorded] = []
            self.aliases: dict[str, list[str]] = {}  # urn -> every alias URN, parents first

        def make_urn(self, parent: str, type_: str, name: str) -> str:
            """URNs as the real engine makes them (the mock keeps only the parent's last type):
            the parent's whole type chain, without the root stack's type."""
            from pulumi.runtime.settings import get_project, get_stack

            return create_urn(get_stack(), get_project(), parent, type_, name)

        def RegisterResource(self, request: Any) -> Any:  # the gRPC method name
            from pulumi.runtime import rpc
            from pulumi.runtime.settings import get_project, get_stack

            if request.type == "pulumi:pulumi:Stack":
                return super().RegisterResource(request)
            # A parent registers (and gets its URN) before any child, so its aliases are known.
            urn = self.make_urn(request.parent, request.type, request.name)
            aliases = resolve_aliases(get_stack(), get_project(), urn, request.parent,
                                      _alias_specs(request), self.aliases.get(request.parent, []))
            self.aliases[urn] = aliases
            current.identity = urn_name(aliases[0]) if aliases else None
            try:
                response = super().RegisterResource(request)
            finally:
                current.identity = None
            self.recorded.append(
                _Recorded(
                    urn=response.urn,
                    type=request.type,
                    name=request.name,
                    parent=request.parent,
                    custom=bool(request.custom),
                    inputs=_strip_secrets(rpc.deserialize_properties(request.object)),
                    aliases=aliases,
                    retain_on_delete=bool(getattr(request, "retainOnDelete", False)),
                    ignore_changes=list(getattr(request, "ignoreChanges", [])),
                )
            )
            return response

    mocks = OfflineMocks()
    return mocks, RecordingMonitor(mocks)


def _effective_region(rec: _Recorded, region: str) -> str:
    if rec.type.startswith(_GLOBAL_MODULES):
        return GLOBAL
    if not rec.custom:
        return region  # components live where their stack lives
    return str(rec.inputs.get("region") or region)


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
    program: Callable[[], object],
    stack_name: str,
    location: Location,
    regions: Catalogue,
    project: str = PROJECT,
) -> list[_Recorded]:
    """Run one Pulumi program under the mock runtime and return what it registered."""
    import pulumi
    from pulumi.runtime.settings import ROOT
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    _event_loop()
    mocks, monitor = _make_mocks(location, regions)
    # Without this every run after the first reuses the first run's root stack resource.
    ROOT.set(None)
    pulumi.runtime.set_mocks(
        mocks, project=project, stack=stack_name, preview=False, monitor=monitor
    )
    def run() -> None:
        program()

    with _without_source_positions():
        _sync_await(run_pulumi_func(run))
    return list(monitor.recorded)


def plan_resources(
    program: Callable[[], object],
    stack_name: str,
    location: Location,
    regions: Catalogue,
    project: str = PROJECT,
) -> list[dict[str, Any]]:
    """The plan JSON's `resources` for any program of this project, sorted by URN."""
    recorded = _run(program, stack_name, location, regions, project)
    resources = []
    for rec in recorded:
        resource: dict[str, Any] = {
            "urn": rec.urn,
            "type": rec.type,
            "name": rec.name,
            "region": _effective_region(rec, location.region),
            "parent": rec.parent,
            "inputs": rec.inputs,
        }
        if rec.aliases:  # how Pulumi matches a renamed resource to its old self (fleet diff)
            resource["aliases"] = rec.aliases
        if rec.retain_on_delete:  # removing it from the program leaves it in AWS (fleet diff)
            resource["retainOnDelete"] = True
        if rec.ignore_changes:  # Pulumi keeps these inputs as they are in AWS (fleet diff)
            resource["ignoreChanges"] = rec.ignore_changes
        resources.append(resource)
    resources.sort(key=lambda r: str(r["urn"]))
    return resources


def synth_plan(
    spec: TenantSpec,
    regions: Catalogue | None = None,
    app_zone: str | None = None,
    suspended: bool = False,
) -> dict[str, Any]:
    """The plan JSON of one tenant: `{"tenant", "resources"}`, each resource `{"urn", "type",
    "name", "region", "parent", "inputs"}` (camelCase provider inputs, secrets as "[secret]"),
    sorted so two plans diff cleanly; policy, fleet diff and CI read it, so keep it stable.

    `app_zone` is the engine's zone override (another zone of the same region); `suspended`
    plans the tenant as the engine suspends it."""
    from stacks.tenant_stack import tenant_program

    cat = regions or catalogue()

    def program() -> None:
        tenant_program(spec, cat, app_zone=app_zone, suspended=suspended)

    resources = plan_resources(program, spec.stack_name, spec.location, cat)
    return {"tenant": spec.to_dict(), "resources": resources}
