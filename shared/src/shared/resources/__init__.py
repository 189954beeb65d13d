"""Dagster resources of the platform, configured from the environment.

These modules sit below :mod:`shared.io_managers` (which use :class:`~.storage.StorageResource`); only
``platform.py``, which assembles the resource set, imports the IO managers.
"""
