"""Dagster resources of the platform, configured from the environment."""
