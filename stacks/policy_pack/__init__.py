"""The tenant security baseline as a CrossGuard policy pack (see PulumiPolicy.yaml)."""
