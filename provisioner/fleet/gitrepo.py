"""The git side of a fleet plan: the repository, the base revision, its worktree, program hashes.

Everything here runs the `git` CLI (the one place the fleet does), and maps its failures to
EnvironmentProblem (exit 3): not a git repository, an unknown ref, no git at all.

Program hash: what the tenant program is a function of, besides the spec. For a revision it is
built from `git ls-tree` blob ids; for the working tree from the files on disk hashed the way git
hashes blobs, so an unchanged working tree hashes exactly like its commit and reuses its plans.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from provisioner.errors import EnvironmentProblem

# What the tenant program reads, relative to the repository root. Directories are taken whole,
# except the fleet's own outputs (the comment template, the CI workflow) which no plan depends on.
PROGRAM_PATHS = (
    "stacks",
    "templates",
    "regions.yaml",
    "provisioner/synth.py",
    "provisioner/spec.py",
    "provisioner/plans.py",
    "provisioner/regions.py",
    "provisioner/paths.py",
    "provisioner/promises.py",
)
# The regional platform stack is a program of its own (provisioner/fleet/regions.py hashes it);
# no tenant plan reads it, so a change to it alone replans no tenant.
NOT_PROGRAM = ("templates/fleet_comment.md.j2", "templates/github/", "stacks/region/")
GIT_TIMEOUT_SECONDS = 120  # a worktree checkout of a large repository on a slow disk


def _excluded(path: str, exclude: tuple[str, ...] = NOT_PROGRAM) -> bool:
    return (
        path.startswith(exclude)
        or "/__pycache__/" in f"/{path}"
        or path.endswith((".pyc", ".pyo"))
    )


def git(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run git in `root`; EnvironmentProblem when git itself is missing."""
    try:
        return subprocess.run(
            ["git", "-C", str(root), *args],
            capture_output=True,
            text=True,
            check=check,
            timeout=GIT_TIMEOUT_SECONDS,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"},
        )
    except FileNotFoundError as exc:
        raise EnvironmentProblem("git is not installed: install git and run again") from exc
    except subprocess.CalledProcessError as exc:
        detail = (exc.stderr or exc.stdout or "").strip().splitlines()
        # The runner's paths help nobody reading a CI log; git names them relative to the root.
        last = (detail[-1] if detail else str(exc)).replace(f"{root}{os.sep}", "")
        raise EnvironmentProblem(f"git {' '.join(args[:2])} failed: {last}") from exc


def blob_id(data: bytes) -> str:
    """The id git gives a file's content (`git hash-object`)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class Revision:
    """A resolved base revision."""

    ref: str  # what the user typed: "origin/main", "HEAD~1"
    commit: str  # the full commit id

    @property
    def short(self) -> str:
        return self.commit[:12]


class Repository:
    """A git working tree holding the tenant program (and, often, tenants.yaml)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def discover(cls, start: Path) -> Repository:
        """The repository containing `start`; EnvironmentProblem if there is none."""
        if not start.exists():
            raise EnvironmentProblem(f"{start} does not exist: run in a git checkout of the fleet")
        probe = git(start, "rev-parse", "--show-toplevel", check=False)
        if probe.returncode != 0:
            raise EnvironmentProblem(
                f"{start} is not inside a git repository: run in a checkout of the"
                " repository that holds the tenant program (or pass --repo)"
            )
        root = Path(probe.stdout.strip()).resolve()
        if not (root / "provisioner" / "synth.py").is_file():
            raise EnvironmentProblem(
                f"{root} has no provisioner/synth.py: use a checkout of the provisioner"
                " repository (the tenant program and its planner)"
            )
        return cls(root)

    def resolve(self, ref: str) -> Revision:
        """A ref to its commit; EnvironmentProblem for an unknown one."""
        found = git(self.root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
        if found.returncode != 0 or not found.stdout.strip():
            raise EnvironmentProblem(
                f"unknown git ref {ref!r}: fetch it first (in CI:"
                " actions/checkout with fetch-depth: 0) or name an existing commit"
            )
        return Revision(ref=ref, commit=found.stdout.strip())

    def head_commit(self) -> str | None:
        found = git(self.root, "rev-parse", "--verify", "--quiet", "HEAD", check=False)
        return found.stdout.strip() or None

    def show(self, revision: Revision, path: str) -> str | None:
        """A file's text at a revision, or None when it does not exist there."""
        found = git(self.root, "show", f"{revision.commit}:{path}", check=False)
        return found.stdout if found.returncode == 0 else None

    def relative(self, path: Path) -> str:
        """`path` relative to the repository root, in git's spelling (a/b/c)."""
        return path.resolve().relative_to(self.root).as_posix()

    # -- program hashes ----------------------------------------------------------------------

    def revision_blobs(
        self, revision: Revision, paths: tuple[str, ...] = PROGRAM_PATHS,
        exclude: tuple[str, ...] = NOT_PROGRAM,
    ) -> dict[str, str]:
        """path -> blob id of every program file (under `paths`) at a revision."""
        out = git(self.root, "ls-tree", "-r", "--full-tree", revision.commit, "--",
                  *paths).stdout
        blobs = {}
        for line in out.splitlines():
            meta, _, path = line.partition("\t")
            parts = meta.split()
            if len(parts) == 3 and parts[1] == "blob" and not _excluded(path, exclude):
                blobs[path] = parts[2]
        return blobs

    def working_blobs(
        self, paths: tuple[str, ...] = PROGRAM_PATHS, exclude: tuple[str, ...] = NOT_PROGRAM
    ) -> dict[str, str]:
        """path -> blob id of every program file (under `paths`) in the working tree: tracked
        files as they are on disk now, plus untracked ones git does not ignore (a new component
        not yet added)."""
        out = git(self.root, "ls-files", "--cached", "--others", "--exclude-standard", "-z",
                  "--", *paths).stdout
        blobs = {}
        for path in sorted(set(filter(None, out.split("\0")))):
            if _excluded(path, exclude):
                continue
            try:
                blobs[path] = blob_id((self.root / path).read_bytes())
            except (FileNotFoundError, IsADirectoryError):
                continue  # deleted in the working tree, or a submodule
        return blobs

    @contextlib.contextmanager
    def worktree(self, revision: Revision) -> Iterator[Path]:
        """A temporary detached worktree of `revision`, removed afterwards (even on error)."""
        parent = Path(tempfile.mkdtemp(prefix="provisioner-fleet-base-"))
        path = parent / "tree"
        git(self.root, "worktree", "add", "--detach", "--force", str(path), revision.commit)
        try:
            yield path
        finally:
            git(self.root, "worktree", "remove", "--force", str(path), check=False)
            shutil.rmtree(parent, ignore_errors=True)
            git(self.root, "worktree", "prune", check=False)


def program_hash(blobs: dict[str, str], environment: str) -> str:
    """One digest of the program files (path and content) and the planner's environment."""
    digest = hashlib.sha256(environment.encode())
    for path in sorted(blobs):
        digest.update(f"\n{path}\0{blobs[path]}".encode())
    return digest.hexdigest()
