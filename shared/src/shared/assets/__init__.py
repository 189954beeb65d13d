"""The registry of asset keys shared across code locations (contract).

A code location depends on another location's assets by these keys only, never by importing its code.
"""
