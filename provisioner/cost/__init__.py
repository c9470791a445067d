"""What tenants, changes and pools cost: prices as dated data, usage assumptions, estimates.

- `snapshot`: the dated price snapshot (every figure with its source and date);
- `usage`: usage assumptions per plan, overridable by a usage file;
- `estimate` + `rules`: price any plan JSON resource by resource;
- `fleet`: estimates of tenants and of the fleet by location and plan;
- `delta`: the monthly cost delta of a change and the per-plan margin gate;
- `pricelist`: `prices refresh` through the AWS Price List API (the one place that asks it).
"""
