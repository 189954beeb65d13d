"""Automation conditions both code locations attach, so a run-partitioned chain reads the same everywhere.

:func:`when_dep_passed` is how the weather-model run's products follow each other (the catchment forecast
forcings after the run's fields, the discharge forecast after the forecast forcings): a partition is
requested when the *same partition* of one named dependency has a new materialisation (or is requested
on the same tick) and that dependency's blocking checks passed, evaluated by Dagster's automation daemon
(the ``default_automation_condition_sensor``), not a polling loop. It differs from Dagster's ``eager()``
in two ways, both on purpose:

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
