"""Releases and rollouts: move tenants from one program version to another in waves.

- `strategy`: the waves a rollout takes (canaries, one tenant per change group, trials, paid
  tenants region by region in growing batches), bake time, error budget; parsed from the CLI.
- `windows`: per-tenant maintenance windows (default from the location's time zone).
- `controller`: the pure state machine: given a rollout, the tenants of its current wave and the
  time, what to do next (target, skip, verify, withdraw, bake, advance, halt, complete).
- `driver`: applies the controller's decisions to a store (the registry, or the simulation's
  memory) and runs the health checks; the same code for real rollouts and `rollout simulate`.
- `health`: the health checks (HTTPS probe, live audit) behind one Protocol.
- `changes`: the one adapter to the fleet planner (change groups and danger between releases).
- `program`: a release's program materialised by commit in a content-addressed directory.
- `apply`: what a worker needs to apply a tenant's target release.
- `simulate`: the simulated engine, workers and virtual clock of `rollout simulate`.
"""
