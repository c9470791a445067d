"""The incident timeline's hash chain: each entry's hash covers its content and the previous hash.

An auditor can recompute the chain from the entries alone: changing, removing or reordering any
entry breaks every hash from there on (`verify` names the first entry that does not match). The
database also refuses UPDATE and DELETE on the timeline; the chain is what proves it to someone
who does not trust the database's operator.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from provisioner.retention import iso

GENESIS = "0" * 64  # the "previous hash" of an incident's first entry


@dataclass(frozen=True)
class Entry:
    """One timeline entry as stored."""

    seq: int  # 1, 2, ... per incident
    kind: str  # opened, assessed, note, notice.sent, hold, ...
    at: datetime  # when it took effect (--at)
    recorded_at: datetime  # wall clock of the write
    actor: str
    text: str
    data: dict[str, Any]
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "kind": self.kind,
            "at": iso(self.at),
            "recorded_at": iso(self.recorded_at),
            "actor": self.actor,
            "text": self.text,
            "data": self.data,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


def entry_hash(
    incident_id: int, seq: int, kind: str, at: datetime, recorded_at: datetime, actor: str,
    text: str, data: dict[str, Any], prev_hash: str,
) -> str:  # fmt: skip
    """SHA-256 over canonical JSON (sorted keys, no spaces, instants in UTC with Z)."""
    body = {
        "incident": incident_id,
        "seq": seq,
        "kind": kind,
        "at": iso(at),
        "recorded_at": iso(recorded_at),
        "actor": actor,
        "text": text,
        "data": data,
        "prev": prev_hash,
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Verdict:
    intact: bool
    entries: int
    first_bad: int | None  # the seq of the first entry that does not match
    problem: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "intact": self.intact,
            "entries": self.entries,
            "first_bad": self.first_bad,
            "problem": self.problem,
        }


def verify(incident_id: int, entries: Iterable[Entry]) -> Verdict:
    """Recompute the chain; the first entry out of sequence, unlinked or altered fails it."""
    prev, count = GENESIS, 0
    for expected_seq, entry in enumerate(entries, start=1):
        count += 1
        if entry.seq != expected_seq:
            return _broken(count, entry.seq, f"entry {entry.seq} where {expected_seq} belongs")
        if entry.prev_hash != prev:
            return _broken(count, entry.seq, f"entry {entry.seq} does not link to the one before")
        recomputed = entry_hash(
            incident_id, entry.seq, entry.kind, entry.at, entry.recorded_at, entry.actor,
            entry.text, entry.data, entry.prev_hash,
        )  # fmt: skip
        if recomputed != entry.hash:
            return _broken(count, entry.seq, f"entry {entry.seq} was altered after it was written")
        prev = entry.hash
    return Verdict(True, count, None, "")


def _broken(count: int, seq: int, problem: str) -> Verdict:
    return Verdict(False, count, seq, problem)
