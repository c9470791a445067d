"""Where engine events go: a rich progress bar on a terminal, or newline-delimited JSON.

Both are `OnEvent` callables (record, progress). The mapping from engine events to records and
progress is pure (progress.py); these sinks only render. rich is imported when a sink is built.
"""

from __future__ import annotations

import json
import sys
from typing import IO, Any

from provisioner.engine.progress import EventRecord, Progress

# Diagnostics worth showing above the bar; info-level chatter stays in the JSON stream only.
_SHOWN_SEVERITIES = frozenset({"warning", "error", "mandatory", "advisory"})


class JsonLinesSink:
    """One sorted JSON object per line: `{"kind": "event", "event", "progress"}` per event, then
    one `{"kind": "result", ...}` or `{"kind": "error", ...}` line at the end."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream or sys.stdout

    def __call__(self, record: EventRecord, progress: Progress) -> None:
        line = {"kind": "event", "event": record.to_dict(), "progress": progress.to_dict()}
        self._stream.write(json.dumps(line, sort_keys=True, default=str) + "\n")
        self._stream.flush()

    def final(self, data: dict[str, Any]) -> None:
        self._stream.write(json.dumps(data, sort_keys=True, default=str) + "\n")
        self._stream.flush()


class RichProgressSink:
    """A live bar on stderr: resources done / total, the current step, elapsed seconds."""

    def __init__(self, title: str, console: Any = None) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, SpinnerColumn, TextColumn
        from rich.progress import Progress as Bar

        self.console = console or Console(stderr=True)
        self._bar = Bar(
            SpinnerColumn(),
            TextColumn("[bold]{task.fields[title]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[elapsed]}s"),
            TextColumn("{task.description}"),
            console=self.console,
            transient=False,
        )
        self._task = self._bar.add_task("starting", total=None, title=title, elapsed=0)

    def __enter__(self) -> RichProgressSink:
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()

    def __call__(self, record: EventRecord, progress: Progress) -> None:
        if record.kind in ("notice", "diagnostic", "policy", "resource-failed") and (
            record.severity in _SHOWN_SEVERITIES
        ):
            where = f" {record.name}" if record.name else ""
            text = f"{record.severity}:{where} {record.message or ''}".rstrip()
            self._bar.console.print(text, markup=False, highlight=False)
        self._bar.update(
            self._task,
            completed=progress.done,
            total=progress.total or None,
            description=progress.current or ("done" if progress.finished else ""),
            elapsed=progress.elapsed_seconds,
        )
