"""`provisioner pool ...`: warm pools of ready-built instances (see provisioner.pools)."""

from __future__ import annotations

import typer

from provisioner.cli.common import OUTPUT_OPTION, OutputFormat, emit_json, stderr_console
from provisioner.errors import CheckFailed

app = typer.Typer(
    help="Warm pools: ready-built instances per location, bound to a customer at signup.",
    no_args_is_help=True,
)

LOCATION_OPTION = typer.Option(..., "--location", "-l", help="Location code (regions.yaml).")


@app.command("bind-diff")
def bind_diff_command(
    location: str = LOCATION_OPTION,
    plan: str = typer.Option("trial", "--plan", help="Plan of the pooled instance."),
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """The offline diff of binding a pooled instance to a customer (exit 1 if it does more than
    tags, DNS and app configuration)."""
    from provisioner.pools.bind_diff import bind_diff

    with stderr_console().status(f"planning a pooled {plan} instance in {location}, twice"):
        result = bind_diff(location, plan)
    if output == OutputFormat.json:
        emit_json(result.to_dict())
    else:
        _print_bind_diff(result.to_dict())
    if result.violations:
        raise CheckFailed(
            f"binding a pooled instance in {result.location} does more than tags, DNS and app"
            f" configuration: {result.violations[0]}"
        )


def _print_bind_diff(data: dict[str, object]) -> None:
    from provisioner.cli._registry import print_table

    changes = data["changes"]
    assert isinstance(changes, dict)
    rows = []
    for action, entries in changes.items():
        for entry in entries:
            paths = ", ".join(sorted({str(c["path"]) for c in entry.get("changes", [])}))
            rows.append((action, entry["type"], entry["name"], paths))
    print_table(
        f"binding {data['instance_id']} ({data['location']}, {data['plan']}) to {data['slug']}",
        ("action", "type", "resource", "changed inputs"),
        rows,
    )
    counts = data["counts"]
    assert isinstance(counts, dict)
    summary = ", ".join(f"{n} {action}" for action, n in counts.items())
    verdict = "ok: tags, DNS and app configuration only" if data["ok"] else "NOT in place"
    typer.echo(f"{summary}: {verdict}")
