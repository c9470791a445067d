"""In-place updates that cannot be undone: a database's major engine version upgrade.

Pulumi shows a new `engineVersion` on an RDS instance as an update (the provider modifies the
instance, no replacement). A *major* version upgrade (MySQL 8.0 -> 8.4, PostgreSQL 15 -> 16)
is different from a minor one: RDS refuses it unless `allowMajorVersionUpgrade` is set, and
it cannot be reverted (RDS has no downgrade; going back means restoring a snapshot taken
before, losing what was written since). See the RDS user guide, "Upgrading the MySQL DB engine"
and "ModifyDBInstance" (AllowMajorVersionUpgrade).
"""

from __future__ import annotations

from typing import Any

RDS_TYPES = ("aws:rds/instance:Instance", "aws:rds/cluster:Cluster")
# Engines whose major version is the first two numbers (MySQL 5.7, 8.0, 8.4; MariaDB 10.11).
TWO_PART_MAJOR = ("mysql", "mariadb", "aurora-mysql")


def major_version(engine: str, version: str) -> str:
    """`8.0.35` -> `8.0` for MySQL; `16.3` -> `16` for PostgreSQL 10 and later (`9.6` before)."""
    parts = version.split(".")
    if engine in TWO_PART_MAJOR or (parts[0].isdigit() and int(parts[0]) < 10):
        return ".".join(parts[:2])
    return parts[0]


def _inputs_change(entry: dict[str, Any], path: str) -> dict[str, Any] | None:
    return next((c for c in entry.get("changes", []) if c["path"] == path), None)


def major_upgrades(changes: dict[str, list[Any]], head_inputs: dict[str, dict[str, Any]]
                   ) -> list[str]:
    """Why these updates are dangerous: one line per database whose major engine version
    changes in place. `head_inputs` maps a resource URN to its new inputs."""
    reasons = []
    for entry in changes.get("update", []):
        if entry["type"] not in RDS_TYPES:
            continue
        change = _inputs_change(entry, "engineVersion")
        if change is None or not isinstance(change["before"], str) or not isinstance(
            change["after"], str
        ):
            continue
        inputs = head_inputs.get(entry["urn"], {})
        engine = str(inputs.get("engine", "")).lower()
        before = major_version(engine, change["before"])
        after = major_version(engine, change["after"])
        if before == after:
            continue
        label = {"mysql": "MySQL", "postgres": "PostgreSQL", "mariadb": "MariaDB"}.get(
            engine, engine or "engine")
        allowed = inputs.get("allowMajorVersionUpgrade") is True
        consequence = (
            "allowMajorVersionUpgrade is set, so RDS will upgrade in place"
            if allowed
            else "RDS refuses it without allowMajorVersionUpgrade, so the update fails"
        )
        reasons.append(
            f"upgrades database {entry['name']} from {label} {before} to {after}: a major"
            f" version upgrade ({consequence}) that cannot be undone (no downgrade: going back"
            " means restoring a snapshot from before it)"
        )
    return reasons
