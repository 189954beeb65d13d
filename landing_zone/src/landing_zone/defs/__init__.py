"""Definitions of the landing zone, one folder per domain, each laid out the same way.

``<domain>/definitions.py`` is the domain's entry point: the component type that the ``defs.yaml`` of
each instance beside it names (``elevation/dtm/defs.yaml``, ``stations/meteo/defs.yaml``), or a
module-level ``Definitions`` where the domain has no repeated structure. Role-named modules hold the
Dagster objects (``assets.py``, ``checks.py``, ``sensors.py``, ``schedules.py``); the rest are plain
computation that imports no Dagster.

The location root loads this package with Dagster's defs-folder loader, which imports every module
here (a ``definitions.py`` is not special to it: it takes one module-level ``Definitions``, else the
module's Dagster objects) and instantiates every ``defs.yaml``. Role-named modules therefore expose
factories, not module-level assets, where a component builds them.
"""
