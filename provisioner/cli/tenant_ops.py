"""`provisioner tenants preview|up|refresh|destroy|outputs|cancel SLUG`: run a tenant's stack.

Thin: parse and validate, build a TenantSpec (defaults from the registry when it knows the
tenant), run the policy check before `up`, call provisioner.engine, render. Heavy imports (the
engine's pulumi, rich, SQLAlchemy) happen inside the commands.
"""

from __future__ import annotations

import os
from typing import Any

import typer

from provisioner.cli.common import OUTPUT_OPTION, OutputFormat, emit_json
from provisioner.cli.tenants import app
from provisioner.errors import ProvisionerError, UsageError
from provisioner.policy.gate import policy_gate
from provisioner.spec import TenantSpec, validate_slug

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


def _registered(slug: str) -> Any:
    """The registry's record of `slug`, or None. Never creates a registry that does not exist."""
    from provisioner.paths import data_dir

    if not os.environ.get("PROVISIONER_DATABASE_URL") and not (data_dir() / "registry.db").exists():
        return None
    from provisioner.registry import Registry

    with Registry.open() as registry:
        return registry.find_tenant(slug)


def resolve_spec(slug: str, location: str | None, plan: str | None) -> TenantSpec:
    """The spec to run: flags, else the registered values; flags may not contradict the registry.

    A registered tenant's location is where its customer chose to keep their data, so a
    different --location is refused rather than moving the stack to another region.
    """
    from provisioner.regions import catalogue

    validate_slug(slug)
    tenant = _registered(slug)
    if tenant is not None:
        if location is not None and catalogue().resolve(location).code != tenant.location:
            raise UsageError(
                f"tenant {slug} is registered in location {tenant.location}; a stack never moves"
                " to another region: drop --location"
            )
        if plan is not None and plan != tenant.plan:
            raise UsageError(
                f"tenant {slug} is registered on plan {tenant.plan}: change the plan in the"
                " registry (billing), then run without --plan"
            )
        location, plan = location or tenant.location, plan or tenant.plan
    if location is None or plan is None:
        missing = " and ".join(
            flag for flag, v in (("--location", location), ("--plan", plan)) if v is None
        )
        raise UsageError(f"tenant {slug} is not registered: give {missing}")
    # A tenant bound to a warm-pool instance runs the instance's stack (names from its id).
    instance_id = getattr(tenant, "instance_id", None) if tenant is not None else None
    return TenantSpec.create(slug, location, plan, instance_id=instance_id)


def _engine(backend: str | None, secrets_provider: str | None) -> Any:
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
    engine = _engine(backend, secrets_provider)
    engine.check()  # exit 3 before anything is written when the CLI is missing
    if output == OutputFormat.json:
        from provisioner.engine.display import JsonLinesSink

        sink = JsonLinesSink()
        try:
            result = _invoke(engine, verb, spec, force_policy, sink)
        except ProvisionerError as exc:
            sink.final({"kind": "error", "error": type(exc).__name__, "message": str(exc)})
            raise
        sink.final({"kind": "result", "result": result.to_dict()})
        return
    from provisioner.cli.common import stderr_console
    from provisioner.engine.display import RichProgressSink

    console = stderr_console()
    with RichProgressSink(f"{verb} {spec.stack_name}", console=console) as bar:
        result = _invoke(engine, verb, spec, force_policy, bar)
    _print_result(result)


def _invoke(engine: Any, verb: str, spec: TenantSpec, force_policy: bool, sink: Any) -> Any:
    if verb == "up":
        expected = policy_gate(spec, force_policy, emit=lambda r: sink(r, _blank(verb)))
        return engine.up(spec, on_event=sink, expected_total=expected or None)
    return getattr(engine, verb)(spec, on_event=sink)


def _blank(verb: str) -> Any:
    from provisioner.engine.progress import Progress

    return Progress(verb=verb)


def _print_result(result: Any) -> None:
    changes = ", ".join(f"{n} {op}" for op, n in sorted(result.changes.items())) or "no changes"
    typer.echo(f"{result.verb} {result.stack}: {changes} in {result.duration_seconds:.0f}s")
    for line in result.notices:
        typer.echo(f"  note: {line}")
    for key, value in sorted(result.outputs.items()):
        typer.echo(f"  {key} = {value.shown()}")


@app.command("preview")
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


@app.command("up")
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


@app.command("refresh")
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


@app.command("destroy")
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


@app.command("outputs")
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
    values = _engine(backend, secrets_provider).outputs(spec)
    shown = {key: value.shown() for key, value in sorted(values.items())}
    if output == OutputFormat.json:
        emit_json({"outputs": shown, "stack": spec.stack_name})
        return
    for key, value in shown.items():
        typer.echo(f"{key} = {value}")


@app.command("cancel")
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
    _engine(backend, secrets_provider).cancel(spec)
    if output == OutputFormat.json:
        emit_json({"cancelled": True, "stack": spec.stack_name})
        return
    typer.echo(
        f"cancelled the running update of {spec.stack_name}; now run 'provisioner"
        f" tenants refresh {slug}'"
    )
