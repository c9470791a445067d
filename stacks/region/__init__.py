"""The regional platform stack: one per location, shared by its tenants (see platform.py)."""
