"""Shared library of the water-data platform: storage, IO managers, resources, asset keys, K8s op tags,
worker pool. Import submodules directly; this package imports nothing heavy.

Import direction: each layer imports only the layers above it, never one below.

1. ``storage`` (with the layout contract, :class:`~shared.storage.layout.AssetLocation`), ``rasters``,
   ``vectors``, ``workers``, ``k8s``, ``assets``, ``loading``. ``storage`` and ``rasters`` import no
   Dagster at module level, so a domain's plain computation modules may use them.
2. ``resources.storage``, ``resources.duckdb_checks``, ``publication``, ``partitions``.
3. ``io_managers``.
4. ``resources.platform``: assembles the resource set, the only ``resources`` module that imports
   ``io_managers``.
"""
