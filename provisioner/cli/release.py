"""`provisioner release create|list`: immutable records of a tenant-program version.

A release is a commit and the program hash `fleet plan` computes for it (the tenant program's
files and the planner's SDK versions). Workers apply a tenant's target release by checking out
its commit into a content-addressed directory, so any recorded release can be applied again:
going back is rolling out the previous release.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer

from provisioner.cli._registry import actor, open_registry, print_table
from provisioner.cli.common import OUTPUT_OPTION, OutputFormat, emit_json

app = typer.Typer(
    name="release",
    help="Record and list releases (immutable tenant-program versions).",
    no_args_is_help=True,
)


@app.command("create")
def create(
    ref: str = typer.Option("HEAD", "--ref", help="The git ref to record (a commit, tag, ...)."),
    notes: str = typer.Option("", "--notes", help="What the release changes, for people."),
    repo: Path = typer.Option(Path("."), "--repo", help="A directory inside the git checkout."),
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Record the tenant program at REF as a release (the same program twice: the same one)."""
    from provisioner.fleet.cache import planner_environment
    from provisioner.fleet.gitrepo import Repository, program_hash
    from provisioner.registry.releases import create_release

    repository = Repository.discover(repo.resolve())
    revision = repository.resolve(ref)
    digest = program_hash(repository.revision_blobs(revision), planner_environment())
    with open_registry() as reg:
        release, created = create_release(
            reg, commit=revision.commit, program_hash=digest, ref=ref, notes=notes,
            actor=actor(), now=datetime.now(UTC),
        )
    if output is OutputFormat.json:
        emit_json({**release.to_dict(), "created": created})
        return
    what = "recorded" if created else "already records this program"
    typer.echo(
        f"release {release.id} {what}: commit {release.commit[:12]}, program"
        f" {release.program_hash[:12]} ({ref})"
    )


@app.command("list")
def list_(output: OutputFormat = OUTPUT_OPTION) -> None:
    """Every recorded release, oldest first."""
    from provisioner.registry.releases import list_releases

    with open_registry() as reg:
        found = list_releases(reg)
    if output is OutputFormat.json:
        emit_json([r.to_dict() for r in found])
        return
    print_table(
        None,
        ("id", "commit", "program", "ref", "created", "by", "notes"),
        (
            (r.id, r.commit[:12], r.program_hash[:12], r.ref,
             r.created_at.isoformat(timespec="seconds"), r.actor, r.notes)
            for r in found
        ),
    )


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="release")
