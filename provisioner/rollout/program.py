"""A release's program on disk: the release's commit checked out once into a content-addressed
directory (`data_dir()/releases/<program hash>`), verified against the recorded program hash,
then kept: a key never goes stale (another program is another hash), so rolling back to an
older release reuses its directory.

The checkout uses the fleet planner's git code (provisioner.fleet.gitrepo: a temporary
`git worktree` of the commit, and the same program hash `fleet plan` computes).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from provisioner.errors import EnvironmentProblem
from provisioner.fleet.cache import planner_environment
from provisioner.fleet.gitrepo import Repository, Revision, program_hash
from provisioner.paths import data_dir

REPO_ENV = "PROVISIONER_RELEASE_REPO"  # the git checkout that holds the releases' commits
_COMPLETE = ".provisioner-release"  # written last: a directory without it is not finished


@dataclass(frozen=True)
class ReleaseProgram:
    """What a worker applies: a recorded release (its id, commit and program hash)."""

    release_id: int
    commit: str
    program_hash: str

    def root(self, cache: Path | None = None, repo: Repository | None = None) -> Path:
        """The release's checkout (materialised on first use); its program is
        `root/stacks/tenant`."""
        return materialise(self, cache, repo)


def release_repository() -> Repository:
    """PROVISIONER_RELEASE_REPO, else the checkout this code runs from."""
    start = Path(os.environ.get(REPO_ENV) or Path(__file__).resolve().parents[2])
    return Repository.discover(start)


def materialise(
    release: ReleaseProgram, cache: Path | None = None, repo: Repository | None = None
) -> Path:
    root = (cache or data_dir() / "releases") / release.program_hash
    if (root / _COMPLETE).is_file():
        return root
    repo = repo or release_repository()
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=root.parent))
    try:
        with repo.worktree(Revision(ref=release.commit, commit=release.commit)) as tree:
            found = program_hash(Repository(tree).working_blobs(), planner_environment())
            if found != release.program_hash:
                raise EnvironmentProblem(
                    f"release {release.release_id}: commit {release.commit[:12]} has program"
                    f" hash {found[:12]}, not the recorded {release.program_hash[:12]} (another"
                    " pulumi/pulumi-aws version here than where it was recorded?): run the"
                    " worker with the versions the release was made with"
                )
            shutil.copytree(tree, staging / "tree", ignore=shutil.ignore_patterns(".git"))
        (staging / "tree" / _COMPLETE).write_text(f"{release.release_id} {release.commit}\n")
        try:
            os.replace(staging / "tree", root)  # atomic; a concurrent worker may have won
        except OSError:
            if not (root / _COMPLETE).is_file():
                raise
        return root
    finally:
        shutil.rmtree(staging, ignore_errors=True)
