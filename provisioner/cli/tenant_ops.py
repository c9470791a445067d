"""`provisioner tenants preview|up|refresh|destroy|outputs|cancel SLUG`: run a tenant's stack.

Thin: parse and validate, build a TenantSpec (defaults from the registry when it knows the
tenant), run the policy check before `up`, call provisioner.engine, render. Heavy imports (the
engine's pulumi, rich, SQLAlchemy) happen inside the commands.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import typer

from provisioner.cli.common import OUTPUT_OPTION, OutputFormat, emit_json
from provisioner.errors import ProvisionerError, UsageError
from provisioner.policy.gate import Deployment, Gate
from provisioner.spec import TenantSpec, validate_slug

if TYPE_CHECKING:
    from provisioner.engine import Engine, OnEvent, OperationResult
    from provisioner.engine.progress import Progress
    from provisioner.registry import Tenant

SLUG_ARG = typer.Argument(..., help="The tenant's slug, e.g. acme.")
LOCATION_OPTION = typer.Option(
    None, "--location", "-l", help="Location code (de, us, ...); default: the registered one."
)
PLAN_OPTION = typer.Option(None, "--plan", "-p", help="Plan name; default: the registered one.")
BACKEND_OPTION = typer.Option(
    None,
    "--backend",
    help="State backend: s3://bucket/prefix (env PROVISIONER_BACKEND); default: local files"
    " under the data directory.",
)
SECRETS_OPTION = typer.Option(
    None,
    "--secrets-provider",
    help="awskms://alias/NAME?region=REGION (env PROVISIONER_SECRETS_PROVIDER); default:"
    " passphrase (local backend only).",
)
YES_OPTION = typer.Option(False, "--yes", "-y", help="Confirm a destructive operation.")


def resolve_spec(slug: str, location: str | None, plan: str | None) -> TenantSpec:
    """The spec to run: flags, else the registered values; flags may not contradict the registry
    (provisioner.resolve: a stack never moves to another region)."""
    from provisioner.resolve import resolve

    resolved = resolve(slug, location, plan)
    assert resolved.plan is not None  # resolve() insists on a plan unless told otherwise
    # A tenant bound to a warm-pool instance runs the instance's stack (names from its id), with
    # the admin invitation its bind wrote (so `tenants up` changes nothing the worker set).
    instance_id = resolved.tenant.instance_id if resolved.tenant is not None else None
    admin = None
    if instance_id is not None:
        from provisioner.paths import existing_database_url
        from provisioner.registry import Registry
        from provisioner.registry.signup import admin_email

        with Registry.open(existing_database_url(None)) as registry:  # it holds the tenant
            admin = admin_email(registry, slug)
    return TenantSpec.create(
        slug, resolved.location.code, resolved.plan, instance_id=instance_id, admin_email=admin
    )


def _engine(backend: str | None, secrets_provider: str | None) -> Engine:
    from provisioner.engine import Engine

    return Engine(backend=backend, secrets_provider=secrets_provider)


def _run(
    verb: str,
    slug: str,
    location: str | None,
    plan: str | None,
    backend: str | None,
    secrets_provider: str | None,
    output: OutputFormat,
    force_policy: bool = False,
) -> None:
    spec = resolve_spec(slug, location, plan)
    tenant = _lifecycle_allows(slug, verb)  # exit 2 before the Pulumi CLI is even looked for
    engine = _engine(backend, secrets_provider)
    if not (verb == "destroy" and tenant is not None):
        engine.check()  # exit 3 before anything is written when the CLI is missing
    # (A registered tenant's destroy asks the backend first: a stack never built needs no CLI.)
    if output == OutputFormat.json:
        from provisioner.engine.display import JsonLinesSink

        sink = JsonLinesSink()
        try:
            with _audited(tenant, verb, spec, engine):
                result = _invoke(engine, verb, spec, force_policy, sink, tenant)
        except ProvisionerError as exc:
            sink.final({"kind": "error", "error": type(exc).__name__, "message": str(exc)})
            raise
        sink.final({"kind": "result", "result": result.to_dict()})
        return
    from provisioner.cli.common import stderr_console
    from provisioner.engine.display import RichProgressSink

    console = stderr_console()
    with (
        _audited(tenant, verb, spec, engine),
        RichProgressSink(f"{verb} {spec.stack_name}", console=console) as bar,
    ):
        result = _invoke(engine, verb, spec, force_policy, bar, tenant)
    _print_result(result)


def _lifecycle_allows(slug: str, verb: str) -> Tenant | None:
    """The registered tenant (None if unregistered), after the lifecycle allowed `verb` on it."""
    from provisioner.lifecycle import check_stack_command
    from provisioner.resolve import registered

    tenant = registered(slug)
    if tenant is not None:
        check_stack_command(tenant.facts(), verb, tenant.observed_state)
    return tenant


@contextlib.contextmanager
def _audited(
    tenant: Tenant | None, verb: str, spec: TenantSpec, engine: Engine
) -> Iterator[None]:
    """Every stack command on a registered tenant is in its audit trail, as the operator
    (PROVISIONER_ACTOR, else cli:<login>): when it started, and how it ended."""
    if tenant is None:
        yield
        return
    from provisioner.cli._registry import actor, open_registry

    who = actor()
    data = {"stack": spec.stack_name, "backend": engine.settings.backend.url}
    with open_registry() as registry:
        registry.record_event(spec.slug, f"operator.{verb}", actor=who, reason="started", data=data)
    try:
        yield
    except BaseException as exc:
        message = " ".join(str(exc).split())[:2000] or type(exc).__name__
        with open_registry() as registry:
            registry.record_event(
                spec.slug, f"operator.{verb}.failed", actor=who, reason=message, data=data
            )
        raise
    with open_registry() as registry:
        registry.record_event(spec.slug, f"operator.{verb}.succeeded", actor=who, data=data)


def _invoke(
    engine: Engine,
    verb: str,
    spec: TenantSpec,
    force_policy: bool,
    sink: OnEvent,
    tenant: Tenant | None,
) -> OperationResult:
    if verb == "up":
        gate = Gate(force=force_policy, emit=lambda r: sink(r, _blank(verb)))
        expected = gate(Deployment(spec))  # before the first attempt: sizes the progress bar
        return engine.up(spec, on_event=sink, expected_total=expected or None, gate=gate)
    if verb == "destroy" and tenant is not None:
        return _destroy_registered(engine, spec, sink)
    return getattr(engine, verb)(spec, on_event=sink)


def _destroy_registered(engine: Engine, spec: TenantSpec, sink: OnEvent) -> OperationResult:
    """Destroy a tenant whose deletion was decided, and record it as a worker would: observed
    `deleted`, the deletion evidence (a stack that never existed included), the e-mail scrubbed."""
    from datetime import UTC, datetime

    from provisioner.cli._registry import actor, open_registry
    from provisioner.engine.results import OperationResult
    from provisioner.errors import StackNotFound
    from provisioner.registry import outcomes

    try:
        result = engine.destroy(spec, on_event=sink)
        evidence: dict[str, Any] = {"stack_existed": True, "engine": result.to_dict()}
    except StackNotFound as exc:
        result = OperationResult(
            verb="destroy",
            stack=spec.stack_name,
            backend=engine.settings.backend.url,
            changes={},
            duration_seconds=0.0,
            notices=(str(exc),),
        )
        evidence = {"stack_existed": False, "stack_check": str(exc)}
    now = datetime.now(UTC)
    evidence.update(destroyed_at=now.isoformat(), stack=spec.stack_name)
    with open_registry() as registry:
        outcomes.destroyed_by_operator(
            registry, spec.slug, actor=actor(), now=now, evidence=evidence
        )
    return result


def _blank(verb: str) -> Progress:
    from provisioner.engine.progress import Progress

    return Progress(verb=verb)


def _print_result(result: OperationResult) -> None:
    changes = ", ".join(f"{n} {op}" for op, n in sorted(result.changes.items())) or "no changes"
    typer.echo(f"{result.verb} {result.stack}: {changes} in {result.duration_seconds:.0f}s")
    for line in result.notices:
        typer.echo(f"  note: {line}")
    for key, value in sorted(result.outputs.items()):
        typer.echo(f"  {key} = {value.shown()}")


def preview(
    slug: str = SLUG_ARG,
    location: str | None = LOCATION_OPTION,
    plan: str | None = PLAN_OPTION,
    backend: str | None = BACKEND_OPTION,
    secrets_provider: str | None = SECRETS_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Show what `up` would change in the tenant's stack (needs the Pulumi CLI)."""
    _run("preview", slug, location, plan, backend, secrets_provider, output)


def up(
    slug: str = SLUG_ARG,
    location: str | None = LOCATION_OPTION,
    plan: str | None = PLAN_OPTION,
    backend: str | None = BACKEND_OPTION,
    secrets_provider: str | None = SECRETS_OPTION,
    force_policy: bool = typer.Option(
        False, "--force-policy", help="Deploy despite mandatory policy failures (logged)."
    ),
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Create or update the tenant's stack, after the policy check passes."""
    _run("up", slug, location, plan, backend, secrets_provider, output, force_policy)


def refresh(
    slug: str = SLUG_ARG,
    location: str | None = LOCATION_OPTION,
    plan: str | None = PLAN_OPTION,
    backend: str | None = BACKEND_OPTION,
    secrets_provider: str | None = SECRETS_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Read the tenant's resources back from AWS; clears operations a crash left pending."""
    _run("refresh", slug, location, plan, backend, secrets_provider, output)


def destroy(
    slug: str = SLUG_ARG,
    location: str | None = LOCATION_OPTION,
    plan: str | None = PLAN_OPTION,
    backend: str | None = BACKEND_OPTION,
    secrets_provider: str | None = SECRETS_OPTION,
    yes: bool = YES_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Delete every resource of the tenant, then its stack. Requires --yes."""
    validate_slug(slug)
    if not yes:
        raise UsageError(
            f"destroy deletes every resource of tenant {slug} and its stack: add --yes to confirm"
        )
    _run("destroy", slug, location, plan, backend, secrets_provider, output)


def outputs(
    slug: str = SLUG_ARG,
    location: str | None = LOCATION_OPTION,
    plan: str | None = PLAN_OPTION,
    backend: str | None = BACKEND_OPTION,
    secrets_provider: str | None = SECRETS_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Print the tenant stack's outputs (secret values are masked)."""
    spec = resolve_spec(slug, location, plan)
    tenant = _lifecycle_allows(slug, "outputs")
    engine = _engine(backend, secrets_provider)
    engine.check()
    with _audited(tenant, "outputs", spec, engine):
        values = engine.outputs(spec)
    shown = {key: value.shown() for key, value in sorted(values.items())}
    if output == OutputFormat.json:
        emit_json({"outputs": shown, "stack": spec.stack_name})
        return
    for key, value in shown.items():
        typer.echo(f"{key} = {value}")


def cancel(
    slug: str = SLUG_ARG,
    location: str | None = LOCATION_OPTION,
    plan: str | None = PLAN_OPTION,
    backend: str | None = BACKEND_OPTION,
    secrets_provider: str | None = SECRETS_OPTION,
    yes: bool = YES_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Cancel the stack's running update and release its lock. Requires --yes.

    Only for an update whose process is gone (a crash): cancelling a live update makes it fail
    mid-way. Run `provisioner tenants refresh SLUG` afterwards.
    """
    validate_slug(slug)
    if not yes:
        raise UsageError(
            f"cancel stops the running update of tenant {slug} wherever it runs: make sure its"
            " process is gone, then add --yes"
        )
    spec = resolve_spec(slug, location, plan)
    tenant = _lifecycle_allows(slug, "cancel")
    engine = _engine(backend, secrets_provider)
    engine.check()
    with _audited(tenant, "cancel", spec, engine):
        engine.cancel(spec)
    if output == OutputFormat.json:
        emit_json({"cancelled": True, "stack": spec.stack_name})
        return
    typer.echo(
        f"cancelled the running update of {spec.stack_name}; now run 'provisioner"
        f" tenants refresh {slug}'"
    )


def register(root: typer.Typer) -> None:
    """Add the stack commands to the shared `tenants` sub-app."""
    from provisioner.cli.tenants import app as tenants_app

    for command in (preview, up, refresh, destroy, outputs, cancel):
        tenants_app.command(command.__name__)(command)
