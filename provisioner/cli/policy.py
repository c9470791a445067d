"""`provisioner policy ...`: the security baseline's rules and the promises they enforce."""

from __future__ import annotations

import typer

from provisioner.cli.common import OUTPUT_OPTION, OutputFormat, emit_json

app = typer.Typer(help="The security baseline: rules and the promises they enforce.",
                  no_args_is_help=True)


@app.command("list")
def list_rules(output: OutputFormat = OUTPUT_OPTION) -> None:
    """List every rule with its severity and the published promise it enforces."""
    from provisioner.policy.rules import RULES

    if output is OutputFormat.json:
        emit_json([rule.to_dict() for rule in RULES])
        return
    from rich.console import Console

    from provisioner.policy.report import rules_table

    Console().print(rules_table(RULES))


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="policy")
