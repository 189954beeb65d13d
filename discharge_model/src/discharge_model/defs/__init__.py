"""Definitions of the discharge model, one folder per domain."""
