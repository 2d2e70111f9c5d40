"""Campaigns: YAML -> validated, immutable Campaign objects."""
