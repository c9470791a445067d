"""Warm pools: ready-built tenant instances per location, bound to a customer at signup.

- `bind_diff`: the offline proof that binding replaces and deletes nothing.
- `sizing`: the recommended pool size (a base-stock policy under Poisson signups).
- `refill`: what the workers do for the pools (build, bind, recycle), engine-agnostic.
- `simulate`: the real claim/refill logic against a simulated engine and clock.
The registry side (claims, states) is provisioner.registry.pools.
"""
