"""The timeline's hash chain: an intact chain verifies; altering, dropping or reordering any
entry is detected at that entry."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from provisioner.incidents.chain import GENESIS, Entry, entry_hash, verify

T = datetime(2027, 1, 1, tzinfo=UTC)


def _chain(n: int) -> list[Entry]:
    out, prev = [], GENESIS
    for seq in range(1, n + 1):
        at = T + timedelta(minutes=seq)
        data = {"step": seq, "tenants": ["acme", "beta"]}
        digest = entry_hash(7, seq, "note", at, at, "cli:alice", f"note {seq}", data, prev)
        out.append(Entry(seq, "note", at, at, "cli:alice", f"note {seq}", data, prev, digest))
        prev = digest
    return out


def test_an_intact_chain_verifies() -> None:
    verdict = verify(7, _chain(5))
    assert (verdict.intact, verdict.entries, verdict.first_bad) == (True, 5, None)


@pytest.mark.parametrize(
    "change",
    [
        {"text": "something else"},
        {"data": {"step": 3, "tenants": ["acme"]}},
        {"at": T},
        {"actor": "cli:mallory"},
        {"kind": "assessed"},
    ],
)
def test_an_altered_entry_is_found(change: dict[str, object]) -> None:
    entries = _chain(5)
    entries[2] = replace(entries[2], **change)  # type: ignore[arg-type]
    verdict = verify(7, entries)
    assert (verdict.intact, verdict.first_bad) == (False, 3)
    assert "altered" in verdict.problem


def test_a_removed_or_reordered_entry_is_found() -> None:
    entries = _chain(5)
    assert verify(7, entries[:2] + entries[3:]).first_bad == 4
    assert verify(7, [entries[1], entries[0], *entries[2:]]).first_bad == 2


def test_the_chain_is_bound_to_its_incident() -> None:
    assert verify(8, _chain(2)).first_bad == 1


def test_a_rehashed_entry_breaks_its_successor() -> None:
    entries = _chain(3)
    forged = replace(entries[1], text="forged")
    forged = replace(
        forged,
        hash=entry_hash(7, 2, forged.kind, forged.at, forged.recorded_at, forged.actor,
                        forged.text, forged.data, forged.prev_hash),
    )  # fmt: skip
    verdict = verify(7, [entries[0], forged, entries[2]])
    assert verdict.first_bad == 3 and "link" in verdict.problem
