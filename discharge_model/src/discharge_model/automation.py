"""When the discharge model's assets bring themselves up to date: a declarative automation condition,
evaluated by Dagster's automation daemon (the location's automation sensor,
:func:`shared.instigators.automation_sensor`), not a polling loop.

:data:`WHEN_UPSTREAM_PASSED` requests a partition when any asset it depends on has a new materialisation
(or is requested in the same tick) and every *blocking* check of every asset it depends on passed on that
asset's latest materialisation. The upstream assets of ``training_data`` and ``gauge_catchments`` belong
to the other code location (``landing_zone``: catchment forcings, attributes, climatic indices, polished
discharge, the station list and catchment layers); discharge_model declares them as external
``AssetSpec`` s by registry key, and in the deployed workspace Dagster joins them with landing_zone's
definitions, checks included, so a landing-zone check that fails holds back the training data, and with it
the model and its evaluation, until a corrected upstream passes. One landing-zone change then flows down:
the dataset is rebuilt, the LSTM retrained, the new model evaluated, in one run when they are requested on
the same tick (a dependency requested on the tick counts as updated and as passing its checks; if its
check fails in that run, Dagster's run machinery stops the steps below it).

The condition is :func:`shared.automation.when_deps_passed`, the one the landing zone's features follow:
Dagster's ``eager()`` (also: request a partition that is newly missing, wait while a dependency is missing
or in progress) with ``all_deps_blocking_checks_passed()`` added.

The forecasts follow weather-model runs instead: ``discharge_forecast`` carries
:func:`shared.automation.when_dep_passed` of the catchment forecast forcings (its own run's partition, any
time window), and ``forecast_verification`` :data:`WHEN_ANY_UPDATED`.
"""

import dagster as dg

from shared.automation import when_deps_passed

WHEN_UPSTREAM_PASSED = when_deps_passed()
"""Attached to gauge_catchments, training_data, lstm and evaluation (see the module docstring)."""


WHEN_ANY_UPDATED = (
    dg.AutomationCondition.any_deps_updated().since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("any input updated")
"""For forecast_verification (per region, reading every run's forecast and the observations): re-score
when a forecast or the observations arrive. Like ``eager()`` but neither waiting for missing inputs nor
limited to the latest time window: most run partitions of the forecasts never exist (runs older than the
platform, runs skipped), and the region partitions have no time window."""
