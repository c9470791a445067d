"""The rollout routes (issue 15), read-only: operators start and steer rollouts from the CLI.

    GET /v1/rollouts                   every rollout, oldest first
    GET /v1/rollouts/{id}              one rollout: state, waves, failing tenants, events
    GET /v1/tenants/{slug}/release     the tenant's release, target release, why it is waiting

`rollout.*` webhooks (started, wave.started, wave.baking, wave.finished, halted, resumed,
paused, aborted, completed) go to PROVISIONER_WEBHOOK_URL through the signed delivery log.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel

from provisioner.api.models import ErrorBody

SLUG_PATH = Path(min_length=1, max_length=64, description="The tenant's slug.")
ROLLOUT_ID = Path(ge=1, le=2**31 - 1, description="The rollout's id.")
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "No valid bearer token."},
    403: {"model": ErrorBody, "description": "The token lacks the tenants:read scope."},
    404: {"model": ErrorBody, "description": "No such rollout or tenant."},
    422: {"model": ErrorBody, "description": "The request is not valid."},
    503: {"model": ErrorBody, "description": "The registry is unavailable."},
}


class RolloutView(BaseModel):
    id: int
    release: int
    state: str
    wave: int
    current_wave: str | None
    waves: list[dict[str, Any]]
    strategy: dict[str, Any]
    halt_reason: str | None
    failing: list[str]
    tenants: dict[str, int]
    actor: str
    reason: str
    dangerous_reason: str | None
    created_at: str
    updated_at: str
    wave_started_at: str | None
    wave_finished_at: str | None


class RolloutDetail(RolloutView):
    events: list[dict[str, Any]]


class RolloutList(BaseModel):
    rollouts: list[RolloutView]


class TenantRelease(BaseModel):
    slug: str
    release: int | None
    target_release: int | None
    canary: bool
    maintenance_window: str
    pinned_until: str | None
    pin_reason: str | None
    legal_hold: str | None
    rollout: dict[str, Any] | None
    waiting: str | None


def router(registry: Any, reader: Any, clock: Callable[[], datetime]) -> APIRouter:
    """The routes over an open Registry; `reader` is the app's tenants:read dependency."""
    from provisioner.registry import rollouts
    from provisioner.registry.tenant_say import release_status

    routes = APIRouter()

    @routes.get("/v1/rollouts", response_model=RolloutList, responses=_ERRORS,
                summary="Every rollout, oldest first.")
    def list_rollouts(_: Any = reader) -> dict[str, Any]:
        return {"rollouts": [r.to_dict() for r in rollouts.list_rollouts(registry)]}

    @routes.get("/v1/rollouts/{rollout_id}", response_model=RolloutDetail, responses=_ERRORS,
                summary="One rollout: state, waves, failing tenants and its events.")
    def get_rollout(rollout_id: Annotated[int, ROLLOUT_ID], _: Any = reader) -> dict[str, Any]:
        found = rollouts.get_rollout(registry, rollout_id).to_dict()  # RolloutNotFound: 404
        return {**found, "events": rollouts.rollout_history(registry, rollout_id)}

    @routes.get("/v1/tenants/{slug}/release", response_model=TenantRelease, responses=_ERRORS,
                summary="The tenant's release, target release, and why it is waiting.")
    def get_release(slug: Annotated[str, SLUG_PATH], _: Any = reader) -> dict[str, Any]:
        return {"slug": slug, **release_status(registry, slug, clock())}

    return routes
