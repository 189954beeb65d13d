"""Definitions of the landing zone, one folder per domain."""
