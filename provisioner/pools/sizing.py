"""How many ready instances a pool should keep.

The pool is a base-stock policy: every claim starts one build, so ready + building stays at the
target K. With signups arriving as a Poisson process of rate λ and builds taking T on average
(any distribution), the number of builds outstanding is Poisson with mean λT (Palm's theorem:
the M/G/∞ queue), and by PASTA a signup finds the pool empty exactly when K or more builds are
outstanding. So the recommended size is the smallest K with P(Poisson(λT) >= K) <= the target
probability of a cold start.

That tail is an upper bound: a cold signup builds its own stack and does not draw on the pool,
which makes the pool a loss system (M/G/K/K) whose empty-pool probability is Erlang's B formula,
never larger than the Poisson tail. `pool simulate` measures the real figure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

DEFAULT_TARGET_COLD = 0.01  # one signup in a hundred may wait for a full build
DEFAULT_BUILD_MINUTES = 15.0  # RDS ~6 min, load balancer 2-3 min, the rest in parallel or after
MAX_POOL_SIZE = 10_000


def _pmf(i: int, mean: float) -> float:
    return math.exp(-mean + i * math.log(mean) - math.lgamma(i + 1))


def poisson_tail(k: int, mean: float) -> float:
    """P(X >= k) for X ~ Poisson(mean). Below the mean as 1 - P(X < k); above it, the upper
    terms summed directly (they shrink geometrically), so a tiny tail keeps its precision."""
    if k <= 0:
        return 1.0
    if mean <= 0:
        return 0.0
    if k <= mean:
        return max(0.0, 1.0 - math.fsum(_pmf(i, mean) for i in range(k)))
    total, i = 0.0, k
    while True:
        term = _pmf(i, mean)
        total += term
        if term <= total * 1e-17:
            return total
        i += 1


@dataclass(frozen=True)
class Recommendation:
    size: int
    signups_per_hour: float
    build_minutes: float
    target_cold: float
    cold_bound: float  # P(Poisson(λT) >= size): the cold-start probability at most

    def to_dict(self) -> dict[str, float | int]:
        return {
            "size": self.size,
            "signups_per_hour": round(self.signups_per_hour, 3),
            "build_minutes": round(self.build_minutes, 2),
            "target_cold": self.target_cold,
            "cold_bound": self.cold_bound,
        }


def recommend(
    signups_per_hour: float,
    build_minutes: float = DEFAULT_BUILD_MINUTES,
    target_cold: float = DEFAULT_TARGET_COLD,
) -> Recommendation:
    """The smallest pool whose cold-start probability is at most `target_cold`."""
    if signups_per_hour < 0 or build_minutes <= 0 or not 0 < target_cold < 1:
        raise ValueError("need signups_per_hour >= 0, build_minutes > 0, 0 < target_cold < 1")
    mean = signups_per_hour * build_minutes / 60.0
    size = 0
    while poisson_tail(size, mean) > target_cold:
        size += 1
        if size > MAX_POOL_SIZE:
            raise ValueError(f"no pool of at most {MAX_POOL_SIZE} instances reaches that target")
    return Recommendation(size, signups_per_hour, build_minutes, target_cold,
                          poisson_tail(size, mean))  # fmt: skip
