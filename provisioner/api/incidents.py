"""`GET /v1/incidents` and `GET /v1/incidents/{id}` (scope `incidents:read`): the same documents
as `provisioner incident list|show -o json`, for status pages and the incident tooling."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Path, Query
from pydantic import BaseModel

SCOPE = "incidents:read"


class AffectedView(BaseModel):
    tenant: str
    location: str
    jurisdiction: str
    plan: str
    region: str
    backup_region: str
    created_at: str
    deleted_at: str | None
    why: str


class DeadlineView(BaseModel):
    audience: str
    jurisdiction: str
    rule: str
    what: str
    threshold: str
    source: str
    trigger: str
    due: str | None
    status: str
    left_seconds: int | None


class EntryView(BaseModel):
    seq: int
    kind: str
    at: str
    recorded_at: str
    actor: str
    text: str
    data: dict[str, Any]
    prev_hash: str
    hash: str


class ChainView(BaseModel):
    intact: bool
    entries: int
    first_bad: int | None
    problem: str


class IncidentFields(BaseModel):
    id: int
    title: str
    kind: Literal["breach", "outage", "other"]
    status: Literal["open", "closed"]
    discovered_at: str
    window_start: str | None
    window_end: str
    regions: list[str]
    tenants: list[str]
    hold: bool
    opened_at: str
    opened_by: str
    closed_at: str | None
    root_cause: str | None


class IncidentSummary(IncidentFields):
    affected: int
    next_deadline: DeadlineView | None


class IncidentList(BaseModel):
    incidents: list[IncidentSummary]


class IncidentView(IncidentFields):
    at: str
    affected: list[AffectedView]
    deadlines: list[DeadlineView]
    timeline: list[EntryView]
    chain: ChainView


def install(
    app: FastAPI,
    registry: Any,
    reader: Any,
    clock: Callable[[], datetime],
    responses: dict[int | str, dict[str, Any]],
) -> None:
    """Add the routes; `reader` is the dependency that requires the `incidents:read` scope."""
    from provisioner.incidents.view import document, summary
    from provisioner.registry import incidents as store

    @app.get(
        "/v1/incidents",
        response_model=IncidentList,
        responses=responses,
        summary="Incidents, oldest first, with their soonest open deadline.",
    )
    def list_incidents(
        status: Annotated[Literal["open", "closed"] | None, Query()] = None,
        _: Any = reader,
    ) -> dict[str, Any]:
        now = clock()
        return {
            "incidents": [
                summary(registry, incident, now)
                for incident in store.list_incidents(registry, status)
            ]
        }

    @app.get(
        "/v1/incidents/{incident_id}",
        response_model=IncidentView,
        responses=responses,
        summary="One incident: affected tenants, deadlines soonest first, the timeline.",
    )
    def get_incident(
        incident_id: Annotated[int, Path(ge=1, le=2**62)], _: Any = reader
    ) -> dict[str, Any]:
        return document(registry, incident_id, clock())
