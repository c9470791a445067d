"""Alembic migrations of the registry, shipped inside the package and applied on open."""
