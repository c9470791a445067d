"""The tenant stack's parts, one ComponentResource each: network, keys, observability, database,
compute, edge, backup. Each takes the TenantSpec and the outputs of the parts it depends on."""
