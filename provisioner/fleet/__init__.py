"""Fleet previews for GitOps: what a change to the tenant program does to every tenant.

    from provisioner.fleet.planner import FleetOptions, plan_fleet
    report, stats = plan_fleet(FleetOptions(repo=Path("."), base="origin/main", cache_dir=...))
    from provisioner.fleet.render import render_markdown, exit_code

Modules: `sources` (tenants.yaml or the registry), `gitrepo` (refs, worktrees, program hashes),
`batch` (the per-revision batch entry point), `pool` (parallel planning processes), `cache`,
`template` (verified per-class templates), `diff` + `replace_rules`, `outcome` (danger, policy,
groups), `compute` (outcomes in forked workers), `planner` (the whole run), `render`
(markdown), `preview` (real `pulumi preview`).
Nothing is imported here: `python -m provisioner.fleet.batch` must stay light.
"""
