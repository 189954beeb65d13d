"""Shared library of the water-data platform: storage, IO managers, resources, asset keys, K8s op tags,
worker pool. Import submodules directly; this package imports nothing heavy."""
