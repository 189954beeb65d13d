"""Helpers for tests, benchmarks and local development (not used by the code locations)."""
