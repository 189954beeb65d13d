"""Automation conditions both code locations attach, so a run-partitioned chain reads the same everywhere.

:func:`when_dep_passed` is how the weather-model run's products follow each other (the catchment forecast
forcings after the run's fields, the discharge forecast after the forecast forcings): a partition is
requested when the *same partition* of one named dependency has a new materialisation (or is requested
on the same tick) and that dependency's blocking checks passed, evaluated by Dagster's automation daemon
(each location's automation sensor, :func:`shared.instigators.automation_sensor`), not a polling loop.
It differs from Dagster's ``eager()`` in two ways, both on purpose:

- every partition counts, not only the latest time window: a backfilled or late run (the late-run
  sensor's) reaches its forecast like the newest one, which ``eager()``'s ``in_latest_time_window()``
  would skip;
- only the named dependency triggers and gates: the other dependencies (catchment layers, the current
  model) are read as they are published, so their update does not request every stored run again, and a
  failing check of theirs (which, by write-audit-publish, left the last good version published) does not
  hold back a run.

Like ``eager()`` it waits while the dependency partition is missing or in progress and while the target
is in progress, and asks once per update (``since_last_handled``: until the target is requested or
updated).

:func:`when_deps_passed` is how the rest of the graph follows its inputs across partition mappings (raw
files -> polished series -> daily grids -> catchment forcings and indices -> training data; converted tiles
-> consolidated mosaic -> the catchment rasters and layers): every dependency, every mapped partition,
present with its blocking checks passed.
"""

import dagster as dg


def when_dep_passed(dependency: dg.AssetKey) -> dg.AutomationCondition:
    """Request a partition once ``dependency``'s same partition is newly updated and its blocking checks
    passed (the module docstring)."""
    only = dg.AssetSelection.assets(dependency)
    condition = dg.AutomationCondition
    return (
        condition.any_deps_updated().allow(only).since_last_handled()
        & ~condition.any_deps_missing().allow(only)
        & ~condition.any_deps_in_progress().allow(only)
        & ~condition.in_progress()
        & condition.all_deps_blocking_checks_passed().allow(only)
    ).with_label(f"{dependency.to_user_string()} updated and its blocking checks passed")


def when_deps_passed() -> dg.AutomationCondition:
    """Request a partition once any dependency is newly updated (or the partition is newly missing) and
    every dependency is present, not in progress, with its blocking checks passed.

    For the chains whose partitions do not line up one to one (:func:`when_dep_passed` needs the same
    partition on both sides): the polished series from every raw file, one month x region of daily grids
    from the unpartitioned polished series, a region's mosaic from all its sheets, a region's forcings from
    all its months. It is Dagster's ``eager()`` with ``all_deps_blocking_checks_passed()``, so through any
    partition mapping:

    - *every* mapped dependency partition counts: a region waits while one of its sheets or months is
      missing, in progress, or failed a blocking check on its latest evaluation, rather than publishing
      a mosaic or forcings of half its inputs; a corrected partition releases it;
    - a dependency requested on the same tick counts as updated and as passing, so one new file requests
      its whole chain in one run, where Dagster's run machinery stops the steps below a check that fails;
    - ``eager()``'s latest time window is moot: none of these assets is time-partitioned. Newly missing
      partitions (a month or region registered later) are requested once their inputs are there.
    """
    condition = dg.AutomationCondition
    return (condition.eager() & condition.all_deps_blocking_checks_passed()).with_label(
        "upstream updated and its blocking checks passed"
    )
