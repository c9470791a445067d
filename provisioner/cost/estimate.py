"""Price any plan JSON resource by resource: lines with their source, unpriced items, free ones.

`estimate_plan(plan, snapshot, usage)` takes the offline plan contract (provisioner/synth.py's
`{"resources": [{"type", "name", "region", "inputs"}, ...]}`), so the tenant stack, the regional
platform stack and warm-pool instances are all priced the same way once they have a plan.

Every resource ends up in exactly one of three places, so nothing is ever dropped silently:
- `lines`: priced charges (quantity x unit price, with the price's source and date);
- `unpriced`: charges whose price the snapshot has no sourced figure for, or resources no rule
  knows (a new resource type shows up here until a rule is written for it);
- `free`: resources AWS does not bill for by themselves (a subnet, an IAM role), with why.
`monthly_usd` is the sum of the lines: with anything unpriced it is a lower bound
(`complete` is false), never a total that counts an unknown price as zero.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from provisioner.cost.snapshot import PriceSnapshot
from provisioner.cost.usage import Usage

# Resource types that are organisation, not infrastructure: the project's own components.
COMPONENT_PREFIXES = ("provisioner:",)


@dataclass(frozen=True)
class Resource:
    """The part of a plan resource pricing reads."""

    name: str
    type: str
    region: str
    inputs: Mapping[str, Any]

    @classmethod
    def from_plan(cls, raw: Mapping[str, Any]) -> Resource:
        return cls(
            str(raw.get("name", "")),
            str(raw.get("type", "")),
            str(raw.get("region", "")),
            raw.get("inputs") or {},
        )


@dataclass(frozen=True)
class Line:
    resource: str
    type: str
    what: str
    region: str
    quantity: float
    unit: str
    unit_usd: float
    monthly_usd: float
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "quantity": round(self.quantity, 4),
            "monthly_usd": round(self.monthly_usd, 2),
        }


@dataclass(frozen=True)
class Unpriced:
    resource: str
    type: str
    what: str
    region: str
    quantity: float | None
    unit: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        quantity = None if self.quantity is None else round(self.quantity, 4)
        return {**asdict(self), "quantity": quantity}


@dataclass
class Estimate:
    prices_date: str
    lines: list[Line] = field(default_factory=list)
    unpriced: list[Unpriced] = field(default_factory=list)
    free: list[dict[str, str]] = field(default_factory=list)

    @property
    def monthly_usd(self) -> float:
        # The sum of the lines as shown (cents), so the total adds up for whoever checks it.
        return round(sum(round(line.monthly_usd, 2) for line in self.lines), 2)

    @property
    def complete(self) -> bool:
        return not self.unpriced

    def to_dict(self) -> dict[str, Any]:
        return {
            "monthly_usd": self.monthly_usd,
            "complete": self.complete,
            "lines": [line.to_dict() for line in self.lines],
            "unpriced": [item.to_dict() for item in self.unpriced],
            "free": list(self.free),
            "prices_date": self.prices_date,
        }


class Pricer:
    """What a pricing rule gets: the resource's charges go through `charge`, `free`, `unpriced`."""

    def __init__(
        self, snapshot: PriceSnapshot, usage: Usage, plan: Mapping[str, Any], estimate: Estimate
    ) -> None:
        self.snapshot = snapshot
        self.usage = usage
        self.plan = plan
        self.estimate = estimate

    @property
    def hours(self) -> float:
        return self.usage.hours_per_month

    def figure(self, key: str, res: Resource) -> float:
        return self.usage.get(key, res.name)

    def charge(
        self,
        res: Resource,
        what: str,
        key: str,
        quantity: float,
        unit: str,
        variant: str = "",
        region: str | None = None,
        basis: str = "",
    ) -> None:
        """Price `quantity` units of `key` in the resource's region (or `region`).

        `basis` cites what the quantity rests on when it is not the plain resource (a rule of
        AWS's billing), and is appended to the line's source."""
        where = region or res.region
        if quantity <= 0:  # nothing used, nothing billed; still accounted for
            self.free(res, f"{what}: none used under the usage assumptions")
            return
        price = self.snapshot.lookup(where, key, variant)
        if price is None:
            label = f"{key}[{variant}]" if variant else key
            self.unpriced(
                res, what, f"no sourced price for {label} in {where}", quantity, unit, where
            )
            return
        self.estimate.lines.append(
            Line(
                res.name,
                res.type,
                what,
                where,
                quantity,
                price.unit,
                price.usd,
                quantity * price.usd,
                f"{price.cite()}; {basis}" if basis else price.cite(),
            )
        )

    def unpriced(
        self,
        res: Resource,
        what: str,
        reason: str,
        quantity: float | None = None,
        unit: str = "",
        region: str | None = None,
    ) -> None:
        self.estimate.unpriced.append(
            Unpriced(res.name, res.type, what, region or res.region, quantity, unit, reason)
        )

    def free(self, res: Resource, why: str) -> None:
        self.estimate.free.append({"resource": res.name, "type": res.type, "why": why})


Rule = Callable[[Resource, Pricer], None]


def estimate_plan(
    plan: Mapping[str, Any],
    snapshot: PriceSnapshot,
    usage: Usage,
    rules: Mapping[str, Rule] | None = None,
    free: Mapping[str, str] | None = None,
) -> Estimate:
    """Price every resource of `plan` (any plan JSON with a `resources` list)."""
    from provisioner.cost import rules as default_rules

    rules = default_rules.RULES if rules is None else rules
    free = default_rules.FREE if free is None else free
    estimate = Estimate(prices_date=snapshot.prices_date)
    pricer = Pricer(snapshot, usage, plan, estimate)
    for raw in plan.get("resources", []):
        res = Resource.from_plan(raw)
        if res.type.startswith(COMPONENT_PREFIXES):
            continue  # a component groups resources; it is not billed itself
        rule = rules.get(res.type)
        if rule is not None:
            rule(res, pricer)
            continue
        why = _free_reason(res.type, free)
        if why is not None:
            pricer.free(res, why)
        else:
            pricer.unpriced(res, res.type, "no pricing rule for this resource type yet")
    return estimate


def _free_reason(type_token: str, free: Mapping[str, str]) -> str | None:
    """Exact type first, then the longest prefix entry ("aws:iam/" covers every IAM type)."""
    if type_token in free:
        return free[type_token]
    prefixes = [p for p in free if p.endswith(("/", ":")) and type_token.startswith(p)]
    return free[max(prefixes, key=len)] if prefixes else None


def plan_storage_gib(resources: Sequence[Mapping[str, Any]]) -> float:
    """Allocated storage of a plan's volumes and databases (what its backups copy)."""
    total = 0.0
    for raw in resources:
        inputs = raw.get("inputs") or {}
        kind = raw.get("type")
        if kind == "aws:ebs/volume:Volume":
            total += float(inputs.get("size") or 0)
        elif kind == "aws:ec2/instance:Instance":
            total += float((inputs.get("rootBlockDevice") or {}).get("volumeSize") or 0)
        elif kind == "aws:rds/instance:Instance":
            total += float(inputs.get("allocatedStorage") or 0)
    return total
