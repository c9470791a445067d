"""A test double of the engine: a stack per tenant kept as a JSON file in a directory shared by
processes, operations that take time, fail on request, and notice overlapping operations.

- `up`: creates the stack (counted in `creates`) or updates it (`updates`); state `running`.
- `suspend`: state `stopped` (a missing stack: nothing to stop).
- `destroy`: removes it (`destroys`); StackNotFound if there is none.
- Each operation holds a lock file for its stack, like Pulumi's stack lock: a second operation on
  the same stack while one runs is recorded in `overlaps` (the leases must make that impossible)
  and refused with StackLocked. A lock left by a dead process (SIGKILL) is stale and cleared, as
  `pulumi cancel` would.
- `up_release`: `up` with a recorded release (provisioner.rollout.apply): the stack's `release`
  and every release applied (`releases`, in order) are kept; `bad_releases` fail every time.
- `fail_times[slug] = n`: the first n operations on that stack raise EngineError;
  `always_fail`: every operation on those slugs does; `missing_cli`: every operation raises the
  real PulumiCliMissing error.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from provisioner.engine.results import StackOutput
from provisioner.errors import EngineError, PulumiCliMissing, StackLocked, StackNotFound


@dataclass
class Result:
    verb: str
    outputs: dict[str, StackOutput] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"verb": self.verb}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class DoubleEngine:
    def __init__(
        self,
        root: Path,
        *,
        delay: float = 0.0,
        fail_times: dict[str, int] | None = None,
        always_fail: set[str] | None = None,
        missing_cli: bool = False,
        bad_releases: set[int] | None = None,
    ) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.delay = delay
        self.always_fail = always_fail or set()
        self.missing_cli = missing_cli
        self.bad_releases = bad_releases or set()
        self._guard = threading.Lock()
        self._fail_left = dict(fail_times or {})
        self.running: dict[str, int] = {}  # region -> operations running now (this process)
        self.max_running: dict[str, int] = {}

    # --- verbs --------------------------------------------------------------------------------

    def up(self, spec: Any) -> Result:
        with self._operation(spec, "up") as state:
            if not state.get("exists"):
                state["creates"] = state.get("creates", 0) + 1
            else:
                state["updates"] = state.get("updates", 0) + 1
            state.update(exists=True, status="running", plan=spec.plan.name)
        return Result(
            "up",
            {
                "url": StackOutput(f"https://{spec.slug}.example.test", False),
                "db_password": StackOutput("hunter2", True),
            },
        )

    def up_release(self, spec: Any, program: Any) -> Result:
        with self._operation(spec, "up") as state:
            if program.release_id in self.bad_releases:
                raise EngineError(f"up {spec.stack_name}: release {program.release_id} is bad")
            if not state.get("exists"):
                state["creates"] = state.get("creates", 0) + 1
            else:
                state["updates"] = state.get("updates", 0) + 1
            state.update(exists=True, status="running", plan=spec.plan.name)
            state["release"] = program.release_id
            state.setdefault("releases", []).append(program.release_id)
        return Result("up", {"url": StackOutput(f"https://{spec.slug}.example.test", False)})

    def suspend(self, spec: Any) -> Result:
        with self._operation(spec, "suspend") as state:
            if state.get("exists"):
                state["status"] = "stopped"
                state["suspends"] = state.get("suspends", 0) + 1
        return Result("suspend")

    def destroy(self, spec: Any) -> Result:
        with self._operation(spec, "destroy") as state:
            if not state.get("exists"):
                raise StackNotFound(f"no stack {spec.stack_name}")
            state.update(exists=False, status="destroyed")
            state["destroys"] = state.get("destroys", 0) + 1
        return Result("destroy")

    # --- what tests read ----------------------------------------------------------------------

    def state(self, slug: str) -> dict[str, Any]:
        path = self.root / f"{slug}.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def overlaps(self) -> list[str]:
        path = self.root / "overlaps.log"
        return path.read_text().split() if path.exists() else []

    def in_progress(self) -> list[str]:
        return sorted(p.stem for p in self.root.glob("*.lock"))

    # --- plumbing -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _operation(self, spec: Any, verb: str) -> Iterator[dict[str, Any]]:
        if self.missing_cli:
            raise PulumiCliMissing(
                "the Pulumi CLI is not installed: install it from"
                " https://www.pulumi.com/docs/install/"
            )
        slug, region = spec.slug, spec.region
        with self._lock(slug):
            with self._guard:
                self.running[region] = self.running.get(region, 0) + 1
                self.max_running[region] = max(
                    self.max_running.get(region, 0), self.running[region]
                )
            try:
                time.sleep(self.delay)
                with self._guard:
                    if slug in self.always_fail or self._fail_left.get(slug, 0) > 0:
                        self._fail_left[slug] = self._fail_left.get(slug, 0) - 1
                        raise EngineError(f"{verb} {spec.stack_name}: the double was told to fail")
                state = self.state(slug)
                yield state
                state.setdefault("ops", []).append(verb)
                tmp = self.root / f"{slug}.json.tmp.{os.getpid()}.{threading.get_ident()}"
                tmp.write_text(json.dumps(state, sort_keys=True))
                os.replace(tmp, self.root / f"{slug}.json")  # atomic: a kill leaves old or new
            finally:
                with self._guard:
                    self.running[region] -= 1

    @contextlib.contextmanager
    def _lock(self, slug: str) -> Iterator[None]:
        path = self.root / f"{slug}.lock"
        for _ in range(2):
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                try:
                    holder = int(path.read_text() or "0")
                except (OSError, ValueError):
                    holder = 0
                if holder and not _alive(holder):
                    path.unlink(missing_ok=True)  # stale: its process was killed
                    continue
                with open(self.root / "overlaps.log", "a") as log:
                    log.write(f"{slug}\n")
                raise StackLocked(f"stack {slug} is locked by process {holder}") from None
            os.write(fd, str(os.getpid()).encode())
            os.close(fd)
            break
        try:
            yield
        finally:
            path.unlink(missing_ok=True)
