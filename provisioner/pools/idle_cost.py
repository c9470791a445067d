"""What a pool's waiting instances cost: the cost model's monthly estimate of one pooled instance
(its offline plan, priced by provisioner.cost), times the instances kept ready.

An idle instance is a whole tenant stack with nobody on it, so its cost is the stack's; what the
price snapshot cannot price is left out and the figure is a lower bound (`complete: false`),
never a silent zero.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from provisioner.pools.bind_diff import SAMPLE_INSTANCE_ID


@dataclass(frozen=True)
class InstanceCost:
    monthly_usd: float  # the priced part of one pooled instance's month
    complete: bool  # False: some resources are unpriced, so the figure is a lower bound
    prices_date: str

    def idle(self, ready: int) -> dict[str, Any]:
        return {
            "usd": round(self.monthly_usd * ready, 2),
            "per_instance_usd": self.monthly_usd,
            "complete": self.complete or ready == 0,  # nothing idle costs exactly nothing
            "prices_date": self.prices_date,
        }


@functools.cache
def instance_cost(location: str, plan: str) -> InstanceCost:
    """One pooled (unbound) instance of `plan` in `location`, priced from its offline plan."""
    from provisioner.cost.delta import default_pricing
    from provisioner.cost.estimate import estimate_plan
    from provisioner.plans import get_plan
    from provisioner.regions import catalogue
    from provisioner.spec import TenantSpec
    from provisioner.synth import synth_plan

    spec = TenantSpec.for_pool(SAMPLE_INSTANCE_ID, catalogue().resolve(location), get_plan(plan))
    snapshot, book = default_pricing()
    estimate = estimate_plan(synth_plan(spec), snapshot, book.for_plan(plan))
    return InstanceCost(estimate.monthly_usd, estimate.complete, estimate.prices_date)
