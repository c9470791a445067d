"""The fleet planner's on-disk cache: plans by (program hash, spec), outcomes by everything.

Layout under `data_dir()/plan-cache` (or `--cache-dir`):

    plans/ab/abcdef...json       one tenant's plan (or its planning error) at one program hash
    outcomes/ab/abcdef...json    one tenant's diff + policy verdict between two program hashes

A plan depends only on the program's sources and the spec (the program is a pure function of
the spec; the mocks answer lookups from regions.yaml, itself a program source), so a key never
goes stale: a different program is a different key. Writes are atomic (temporary file and
rename) so parallel runs sharing one cache never read half a file. Nothing is ever updated in
place; delete the directory to reclaim space.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

CACHE_FORMAT = 1  # bump when what a cached file means changes


@cache
def planner_environment() -> str:
    """What else a plan depends on: the SDK versions the mocks record inputs with."""
    parts = [f"cache={CACHE_FORMAT}", f"python={sys.version_info[0]}.{sys.version_info[1]}"]
    for dist in ("pulumi", "pulumi-aws"):
        try:
            parts.append(f"{dist}={metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{dist}=none")
    return " ".join(parts)


@cache
def reporting_code_hash() -> str:
    """The code that turns plans into outcomes (this package, the policy rules): a change to
    it must not reuse outcomes computed by the old code."""
    package = Path(__file__).resolve().parent.parent
    files = sorted(
        [*package.joinpath("fleet").glob("*.py"), *package.joinpath("policy").rglob("*.py"),
         package / "promises.py", *package.joinpath("cost").glob("*.*")]
    )
    sha = hashlib.sha256()
    for path in files:
        sha.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    return sha.hexdigest()


def digest(*parts: Any) -> str:
    """A stable sha256 over JSON-able parts."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def spec_key(spec: dict[str, str]) -> dict[str, str]:
    """The part of a tenants-file entry a plan depends on, normalised (a pooled instance's id
    too: a bound tenant's names come from it)."""
    key = {k: str(spec[k]).strip().lower() for k in ("slug", "location", "plan")}
    if spec.get("instance_id"):
        key["instance_id"] = str(spec["instance_id"])
    if spec.get("legacy_backup"):  # its stack keeps the pre-backup-account copy
        key["legacy_backup"] = "true"
    return key


class PlanCache:
    """Content-addressed JSON files; `None` cache directory disables caching entirely."""

    def __init__(self, root: Path | None) -> None:
        self.root = root
        self.hits = 0
        self.misses = 0

    def _path(self, kind: str, key: str) -> Path:
        assert self.root is not None
        return self.root / kind / key[:2] / f"{key}.json"

    def get(self, kind: str, key: str) -> Any | None:
        if self.root is None:
            self.misses += 1
            return None
        try:
            text = self._path(kind, key).read_text(encoding="utf-8")
            value = json.loads(text)
        except (OSError, ValueError):
            self.misses += 1
            return None  # absent or damaged: plan again, the write below repairs it
        self.hits += 1
        return value

    def put(self, kind: str, key: str, value: Any) -> None:
        if self.root is None:
            return
        path = self._path(kind, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                # dumps, not dump: json.dump encodes in Python, ten times slower on a plan
                handle.write(json.dumps(value, sort_keys=True, separators=(",", ":")))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    # -- the two kinds ----------------------------------------------------------------------

    @staticmethod
    def plan_key(program_hash: str, spec: dict[str, str]) -> str:
        return digest("plan", program_hash, spec_key(spec))
