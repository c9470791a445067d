"""The Engine: preview, up, refresh, destroy, outputs, cancel and recover one tenant's stack.

The only module that imports `pulumi.automation` (inside functions, so importing the CLI stays
fast). Each call raises our own errors (provisioner.errors), never Pulumi's.

Inline program or local program? Local: the tenant program in `stacks/tenant` (Pulumi.yaml,
runtime python) driven from a fresh work directory per operation, so the Pulumi CLI starts a
language host that runs the program in a subprocess of its own for every stack. An inline program
would run inside this process, on a gRPC server and asyncio loop the Automation API starts here:
parallel inline updates failed with gRPC UNAVAILABLE (pulumi/pulumi#7782), futures got attached
to the wrong loop (#11529, open), Python's runtime keeps module-level state that made concurrent
inline programs unsafe (#6052), and two threads running it deadlocked under the mock runtime. With
a subprocess per stack the worker can run many tenants at once, a crashing program cannot take
the worker down, and a platform engineer can run the very same program with plain `pulumi up`.
Concurrent stack updates against one backend can still race in the service (#8122, 404s under
parallel load), which the lock-wait below and the worker's leases absorb.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from provisioner.engine.classify import classify, split_command_error
from provisioner.engine.progress import EventRecord, Progress, Tracker, describe, notice
from provisioner.engine.pulumi_cli import PulumiCli, require_cli
from provisioner.engine.recovery import LockWait, backoff_delays, next_zone, pending_operations
from provisioner.engine.results import OperationResult, RecoveryResult, StackOutput
from provisioner.engine.settings import (
    EngineSettings,
    ensure_passphrase_file,
    stack_config,
    workspace_env,
)
from provisioner.errors import (
    CapacityUnavailable,
    PendingOperations,
    PulumiCliMissing,
    StackLocked,
    StackNotFound,
)
from provisioner.paths import TENANT_PROGRAM_DIR, data_dir
from provisioner.spec import TenantSpec

if TYPE_CHECKING:
    from provisioner.policy.gate import Deployment

OnEvent = Callable[[EventRecord, Progress], None]
PolicyGate = Callable[["Deployment"], object]  # raises (CheckFailed) to refuse a configuration
DEFAULT_PROJECT = "tenant"


def _auto() -> Any:
    import pulumi.automation as auto  # lazy: ~0.5 s of imports, only when an operation runs

    return auto


def project_name(program_dir: Path = TENANT_PROGRAM_DIR) -> str:
    """The project name in stacks/tenant/Pulumi.yaml (stack state is filed under it)."""
    try:
        import yaml

        data = yaml.safe_load((program_dir / "Pulumi.yaml").read_text()) or {}
        return str(data.get("name") or DEFAULT_PROJECT)
    except (OSError, ValueError, AttributeError):
        return DEFAULT_PROJECT


def workspace_settings_file(pulumi_home: Path, project: str, work_dir: Path) -> Path:
    """The file `pulumi stack select` leaves in PULUMI_HOME for a project directory.

    Named `<project>-<sha1 of the Pulumi.yaml path>-workspace.json` (pulumi/pulumi
    sdk/go/common/workspace/workspace.go, settingsPath). With a fresh work dir per operation
    these would pile up in the shared PULUMI_HOME, so each operation removes its own.
    """
    path = str(work_dir.resolve() / "Pulumi.yaml")
    digest = hashlib.sha1(path.encode(), usedforsecurity=False).hexdigest()
    return pulumi_home / "workspaces" / f"{project}-{digest}-workspace.json"


def _op_counts(changes: Mapping[Any, Any] | None) -> dict[str, int]:
    return {str(getattr(op, "value", op)): int(n) for op, n in (changes or {}).items()}


class Engine:
    """Runs Pulumi operations for tenants. Cheap to build: nothing is checked or written yet."""

    def __init__(
        self,
        settings: EngineSettings | None = None,
        *,
        backend: str | None = None,
        secrets_provider: str | None = None,
        env: Mapping[str, str] | None = None,
        lock_wait: LockWait | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._env = dict(os.environ if env is None else env)
        self.settings = settings or EngineSettings.build(
            data_dir(), self._env, backend=backend, secrets_provider=secrets_provider
        )
        self._lock_wait = lock_wait or LockWait()
        self._sleep = sleep
        self._clock = clock
        self._cli: PulumiCli | None = None
        # The tenant program run; a recorded release's checkout for rollouts (provisioner.rollout)
        self.program_dir: Path = TENANT_PROGRAM_DIR

    # -- public verbs --------------------------------------------------------------------------

    def check(self) -> PulumiCli:
        """The Pulumi CLI, found and version-checked once; raises before anything is written."""
        if self._cli is None:
            self._cli = require_cli(self._env)
        return self._cli

    def preview(
        self, spec: TenantSpec, on_event: OnEvent | None = None, expected_total: int | None = None
    ) -> OperationResult:
        return self._operate("preview", spec, on_event, expected_total)

    def up(
        self,
        spec: TenantSpec,
        on_event: OnEvent | None = None,
        expected_total: int | None = None,
        gate: PolicyGate | None = None,
    ) -> OperationResult:
        """Create or update the stack with the service running (this also resumes it).

        `gate` is called with the exact configuration of every attempt before it runs (a zone
        retry included) and raises to stop it (provisioner.policy.gate.Gate)."""
        return self._operate("up", spec, on_event, expected_total, gate=gate)

    def suspend(
        self, spec: TenantSpec, on_event: OnEvent | None = None, gate: PolicyGate | None = None
    ) -> OperationResult:
        """Update the stack to its suspended shape: app server stopped, HTTPS answering 503,
        every byte of data kept. `up` resumes it."""
        return self._operate("up", spec, on_event, None, suspended=True, gate=gate)

    def refresh(self, spec: TenantSpec, on_event: OnEvent | None = None) -> OperationResult:
        return self._operate("refresh", spec, on_event, None)

    def destroy(self, spec: TenantSpec, on_event: OnEvent | None = None) -> OperationResult:
        """Delete every resource of the tenant, then remove the stack itself.

        The backend is asked first, without the Pulumi CLI: a stack that was never built (or
        was already removed) is StackNotFound even on a machine that has no CLI."""
        from provisioner.engine.backends import stack_exists

        if not stack_exists(self.settings.backend, spec.stack_name):
            raise StackNotFound(
                f"stack {spec.stack_name} does not exist in {self.settings.backend.url} (no"
                " checkpoint there, checked without the Pulumi CLI): nothing to destroy"
            )
        return self._operate("destroy", spec, on_event, None)

    def outputs(self, spec: TenantSpec) -> dict[str, StackOutput]:
        with self._stack(spec, "select") as (stack, _):
            values = self._call("outputs", spec, stack.outputs)
        return {k: StackOutput(v.value, bool(v.secret)) for k, v in sorted(values.items())}

    def cancel(self, spec: TenantSpec) -> None:
        """Stop the stack's running update / remove its lock. Dangerous if that update is alive."""
        with self._stack(spec, "select") as (stack, _):
            self._call("cancel", spec, stack.cancel)

    def recover(self, spec: TenantSpec, on_event: OnEvent | None = None) -> RecoveryResult:
        """Clear operations a crashed update left pending, after backing the state up."""
        emit = self._emitter("refresh", on_event, None)
        with self._stack(spec, "select") as (stack, _):
            return self._clear_pending(stack, spec, emit)

    # -- the operation loop ----------------------------------------------------------------------

    def _operate(
        self,
        verb: str,
        spec: TenantSpec,
        on_event: OnEvent | None,
        expected: int | None,
        suspended: bool = False,
        gate: PolicyGate | None = None,
    ) -> OperationResult:
        emit = self._emitter(verb, on_event, expected)
        start = self._clock()
        delays = iter(backoff_delays(self._lock_wait))
        waited = 0.0
        notices: list[str] = []
        attempts, zone, tried = 0, None, list[str]()
        recovered = False
        mode = {"preview": "preview", "destroy": "select"}.get(verb, "create")
        while True:
            attempts += 1
            if gate is not None and verb == "up":  # what this attempt applies, checked first
                from provisioner.policy.gate import Deployment

                gate(Deployment(spec, suspended=suspended, zone=zone))
            try:
                with self._stack(spec, mode, zone, suspended) as (stack, _created):
                    if verb != "preview" and not recovered:
                        cleared = self._clear_pending(stack, spec, emit)
                        recovered = bool(cleared.cleared)
                        if cleared.cleared:
                            notices.append(f"cleared {len(cleared.cleared)} pending operation(s)")
                    changes, outputs = self._run_verb(verb, spec, stack, emit)
                return OperationResult(
                    verb=verb,
                    stack=spec.stack_name,
                    backend=self.settings.backend.url,
                    changes=changes,
                    duration_seconds=self._clock() - start,
                    outputs=outputs,
                    attempts=attempts,
                    zone=zone,
                    notices=tuple(notices),
                )
            except StackLocked as exc:
                delay = next(delays, None)
                if delay is None:
                    raise StackLocked(
                        f"{exc}; still locked after waiting {waited:.0f}s: let that update finish,"
                        f" or if its process is gone run 'provisioner tenants cancel {spec.slug}"
                        " --yes'",
                        exc.detail,
                    ) from exc
                waited += delay
                notices.append(f"stack locked; waited {delay:.0f}s")
                emit(
                    notice(
                        f"{spec.stack_name} is locked by another update; retrying in {delay:.0f}s"
                    )
                )
                self._sleep(delay)
            except PendingOperations:
                # Older CLIs refuse instead of warning; clear once, then try again.
                if recovered or verb == "preview":
                    raise
                recovered = True
                with self._stack(spec, "select") as (stack, _):
                    self._clear_pending(stack, spec, emit)
                notices.append("cleared pending operations")
            except CapacityUnavailable as exc:
                if verb != "up":
                    raise
                # Both the zone AWS named and the one we asked for count as tried: if the program
                # ignored tenant:zone, the loop still ends once every zone was asked for.
                failed = [z for z in (exc.zone, zone) if z] or [spec.location.zones[0]]
                tried.extend(z for z in failed if z not in tried)
                following = next_zone(spec.region, spec.location.zones, tried, exc.suggested_zones)
                if following is None:
                    raise CapacityUnavailable(
                        f"{exc}; tried {', '.join(tried)}, no other zone of {spec.region} is left:"
                        " retry later (the tenant stays in its region)",
                        exc.detail,
                        zone=exc.zone,
                        suggested_zones=exc.suggested_zones,
                    ) from exc
                where = failed[0]
                notices.append(f"no capacity in {where}; retried in {following}")
                emit(notice(f"AWS has no capacity in {where}; retrying in {following}"))
                zone = following

    def _run_verb(
        self, verb: str, spec: TenantSpec, stack: Any, emit: Callable[[EventRecord], None]
    ) -> tuple[dict[str, int], dict[str, StackOutput]]:
        def on_event(event: Any) -> None:
            emit(describe(event))

        if verb == "preview":
            result = self._call(verb, spec, lambda: stack.preview(on_event=on_event))
            return _op_counts(result.change_summary), {}
        if verb == "up":
            result = self._call(verb, spec, lambda: stack.up(on_event=on_event))
            outputs = {
                k: StackOutput(v.value, bool(v.secret)) for k, v in sorted(result.outputs.items())
            }
            return _op_counts(result.summary.resource_changes), outputs
        if verb == "refresh":
            result = self._call(verb, spec, lambda: stack.refresh(on_event=on_event))
            return _op_counts(result.summary.resource_changes), {}
        if verb == "destroy":
            result = self._call(verb, spec, lambda: stack.destroy(on_event=on_event, remove=True))
            return _op_counts(result.summary.resource_changes), {}
        raise ValueError(f"unknown verb {verb!r}")

    def _clear_pending(
        self, stack: Any, spec: TenantSpec, emit: Callable[[EventRecord], None]
    ) -> RecoveryResult:
        """Back the state up, then `refresh --clear-pending-creates`, as Pulumi documents
        (docs: support/troubleshooting/common-issues/interrupted-updates.md; pulumi/pulumi#5377).

        Refresh settles pending updates and deletes by reading the provider. A pending create may
        have made a resource Pulumi never learnt the id of; clearing it may leave that resource
        behind, so the cleared URNs are reported (every tenant resource carries the tenant's
        tags, which is how `audit` finds strays) and the exported state is kept as a backup.
        """
        deployment = self._call("stack export", spec, stack.export_stack)
        pending = pending_operations(deployment.deployment)
        if not pending:
            return RecoveryResult(stack=spec.stack_name, cleared=(), backup=None)
        backup = self._backup(spec, deployment)
        urns = ", ".join(f"{op.urn} ({op.type})" for op in pending)
        emit(
            notice(
                f"clearing {len(pending)} pending operation(s) left by an interrupted update:"
                f" {urns}; state backed up to {backup}; check AWS for resources tagged"
                f" tenant={spec.slug} that the stack no longer lists"
            )
        )
        self._call(
            "refresh",
            spec,
            lambda: stack.refresh(clear_pending_creates=True, on_event=lambda e: emit(describe(e))),
        )
        return RecoveryResult(stack=spec.stack_name, cleared=pending, backup=str(backup))

    def _backup(self, spec: TenantSpec, deployment: Any) -> Path:
        folder = self.settings.home / "backups"
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        path = folder / f"{spec.stack_name}-{stamp}.json"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(
                {"version": deployment.version, "deployment": deployment.deployment},
                handle,
                indent=2,
                sort_keys=True,
            )
        return path

    # -- plumbing ------------------------------------------------------------------------------

    def _emitter(
        self, verb: str, on_event: OnEvent | None, expected: int | None
    ) -> Callable[[EventRecord], None]:
        tracker = Tracker(verb, expected)

        def emit(record: EventRecord) -> None:
            progress = tracker.observe(record)
            if on_event is not None:
                on_event(record, progress)

        return emit

    def _call(self, verb: str, spec: TenantSpec, fn: Callable[[], Any]) -> Any:
        """Run one Automation API call; map its failures to our errors."""
        auto = _auto()
        try:
            return fn()
        except FileNotFoundError as exc:  # the binary vanished after the check
            raise PulumiCliMissing(f"the Pulumi CLI disappeared: {exc}") from exc
        except (auto.errors.CommandError, auto.errors.InvalidVersionError) as exc:
            stdout, stderr = split_command_error(str(exc))
            raise classify(stdout, stderr, verb, spec.stack_name) from exc

    @contextlib.contextmanager
    def _stack(
        self, spec: TenantSpec, mode: str, zone: str | None = None, suspended: bool = False
    ) -> Iterator[tuple[Any, bool]]:
        """A Stack in a fresh work directory, removed afterwards. mode: create, select, preview.

        The CLI is checked first, so without it nothing (state dir, passphrase, work dir) is
        created. `preview` of a stack that does not exist yet creates it and removes it again.
        """
        cli = self.check()
        settings = self.settings
        if mode != "select" and settings.passphrase is not None:
            ensure_passphrase_file(settings.passphrase)
        state_dir = settings.local_state_dir()
        if state_dir is not None and mode == "select" and not state_dir.is_dir():
            # No local state at all: no stack can exist (and the file backend would only
            # complain about the missing directory).
            raise StackNotFound(
                f"stack {spec.stack_name} does not exist in {settings.backend.url}: create it"
                " with 'provisioner tenants up', or check --backend"
            )
        if state_dir is not None and mode != "select":
            state_dir.mkdir(parents=True, exist_ok=True)
        settings.work_root.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f"{spec.stack_name}-", dir=settings.work_root))
        created = False
        try:
            auto = _auto()
            opts = auto.LocalWorkspaceOptions(
                pulumi_home=str(settings.pulumi_home),
                env_vars=workspace_env(settings),
                secrets_provider=settings.secrets_provider,
                project_settings=auto.ProjectSettings(
                    name=project_name(self.program_dir),
                    runtime="python",
                    main=str(self.program_dir),
                ),
                pulumi_command=auto.PulumiCommand(root=str(cli.root), skip_version_check=True),
            )
            try:
                stack = self._call(
                    "stack select",
                    spec,
                    lambda: auto.select_stack(spec.stack_name, work_dir=str(work), opts=opts),
                )
            except StackNotFound:
                if mode == "select":
                    raise
                stack = self._call(
                    "stack init",
                    spec,
                    lambda: auto.create_stack(spec.stack_name, work_dir=str(work), opts=opts),
                )
                created = True
            try:
                if mode != "select":
                    config = {
                        k: auto.ConfigValue(v)
                        for k, v in stack_config(spec, zone, suspended).items()
                    }
                    self._call("config set", spec, lambda: stack.set_all_config(config))
                yield stack, created
            finally:
                if created and mode == "preview":
                    # A preview must not leave an empty stack behind for a tenant never created.
                    self._call("stack rm", spec, lambda: stack.workspace.remove_stack(stack.name))
        finally:
            shutil.rmtree(work, ignore_errors=True)
            workspace_settings_file(settings.pulumi_home, project_name(), work).unlink(
                missing_ok=True
            )
