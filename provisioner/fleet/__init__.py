"""Fleet previews for GitOps: what a change to the tenant program does to every tenant.

    from provisioner.fleet.planner import FleetOptions, fleet_changes, plan_fleet
    report, stats = plan_fleet(FleetOptions(repo=Path("."), base="origin/main", cache_dir=...))
    report, stats = fleet_changes(options, base_specs, head_specs)  # fleets given as specs
    from provisioner.fleet.render import render_markdown, exit_code

Modules: `sources` (tenants.yaml or the registry, checked whole), `fleets` (both sides' fleets
and catalogues), `gitrepo` (refs, worktrees, program hashes), `batch` (the per-revision batch
entry point), `pool` (parallel planning processes), `cache`, `template` (verified per-class
templates), `sides` (the plans one side needs), `diff` + `replace_rules` (matching through
aliases), `upgrades` (major engine upgrades), `residency` (location moves refused), `outcome`
(danger, policy, groups), `shared` (one outcome per template pair), `compute` (outcomes in
forked workers), `regions` + `region_batch` (every location's regional platform stack, planned
per side and compared), `planner` (the whole run; `plan_fleet`, `fleet_changes`), `render`
(markdown, JSON), `preview` (real `pulumi preview`).
Nothing is imported here: `python -m provisioner.fleet.batch` must stay light.
"""
