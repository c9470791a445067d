"""The one adapter between rollouts and the fleet planner (provisioner.fleet): which tenants
change identically between the release they are on and the new one (change groups), and
whether any change is dangerous (as `fleet plan` defines it: data loss, replacement, a policy
failure). Only the planner's public entry (`plan_fleet`) and its report are used here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from provisioner.fleet.gitrepo import Revision
from provisioner.rollout.program import release_repository
from provisioner.rollout.strategy import ChangeGroup


@dataclass(frozen=True)
class ReleaseRef:
    id: int
    commit: str


@dataclass(frozen=True)
class Changes:
    groups: tuple[ChangeGroup, ...]
    dangerous: tuple[str, ...]  # slugs whose change is dangerous


class ChangePlanner(Protocol):
    def changes(
        self, moves: Mapping[ReleaseRef | None, Sequence[str]], to: ReleaseRef
    ) -> Changes:
        """`moves`: the tenants on each current release (None: not on any recorded release)."""


class FleetChanges:
    """Change groups from `fleet plan`: the new release's commit checked out (the head side),
    each current release's commit as the base; plans come from the planner's cache."""

    def __init__(self, registry_url: str | None, cache_dir: Path | None = None,
                 jobs: int = os.cpu_count() or 1) -> None:
        self.registry_url = registry_url
        self.cache_dir = cache_dir
        self.jobs = jobs

    def changes(
        self, moves: Mapping[ReleaseRef | None, Sequence[str]], to: ReleaseRef
    ) -> Changes:
        from provisioner.fleet.planner import FleetOptions, plan_fleet
        from provisioner.paths import data_dir

        repo = release_repository()
        groups: list[ChangeGroup] = []
        dangerous: list[str] = []
        with repo.worktree(Revision(ref=to.commit, commit=to.commit)) as head:
            for base, slugs in sorted(moves.items(), key=lambda m: m[0].id if m[0] else 0):
                wanted = set(slugs)
                report, _ = plan_fleet(FleetOptions(
                    repo=head,
                    base=(base or to).commit,
                    registry=True,
                    registry_url=self.registry_url,
                    jobs=self.jobs,
                    cache_dir=self.cache_dir or data_dir() / "plan-cache",
                    regions=False,  # a rollout moves tenants; regional stacks are not its own
                ))
                for group in report["groups"]:
                    members = tuple(s for s in group["tenants"] if s in wanted)
                    if not members:
                        continue
                    groups.append(ChangeGroup(
                        id=f"r{base.id if base else 0}:{group['id']}",
                        tenants=members,
                        changed=group["status"] != "unchanged",
                        dangerous=bool(group["dangerous"]),
                    ))
                    if group["dangerous"]:
                        dangerous.extend(members)
        return Changes(tuple(groups), tuple(sorted(dangerous)))


class ClassChanges:
    """Without a planner (`--no-plan`, the simulation): tenants of one location and plan are
    assumed to change identically, nothing is assumed dangerous. Says so in the rollout."""

    def __init__(self, classes: Mapping[str, tuple[str, str]]) -> None:
        self.classes = classes  # slug -> (location, plan)

    def changes(
        self, moves: Mapping[ReleaseRef | None, Sequence[str]], to: ReleaseRef
    ) -> Changes:
        by_class: dict[tuple[str, str], list[str]] = {}
        for slugs in moves.values():
            for slug in slugs:
                by_class.setdefault(self.classes[slug], []).append(slug)
        return Changes(
            tuple(
                ChangeGroup(id=f"{loc}/{plan}", tenants=tuple(sorted(members)))
                for (loc, plan), members in sorted(by_class.items())
            ),
            (),
        )
