"""Whether sensors and schedules start by themselves: running in production, stopped on a laptop.

A deployment (``PLATFORM_ENV=production``) should sync, fetch and propagate without an operator switching
each sensor and schedule on after every fresh install; a developer's ``dagster dev`` should not start
polling providers or materialising the graph before they ask it to. The environment is read when the code
location loads (:func:`shared.resources.platform.platform_environment`), so every sensor and schedule of
both locations takes its default status from here, and an operator can still stop or start any of them
in the UI (Dagster keeps that choice over the default).

:func:`automation_sensor` is each location's one automation-condition sensor: Dagster otherwise adds a
``default_automation_condition_sensor`` that is always stopped by default, so declarative automation would
not run in production until someone started it.
"""

import dagster as dg

from shared.resources.platform import platform_environment


def runs_by_default() -> bool:
    """Whether this environment starts instigators by itself (production only)."""
    return platform_environment() == "production"


def sensor_status() -> dg.DefaultSensorStatus:
    """The default status of every sensor: running in production, stopped elsewhere."""
    return dg.DefaultSensorStatus.RUNNING if runs_by_default() else dg.DefaultSensorStatus.STOPPED


def schedule_status() -> dg.DefaultScheduleStatus:
    """The default status of every schedule: running in production, stopped elsewhere."""
    return dg.DefaultScheduleStatus.RUNNING if runs_by_default() else dg.DefaultScheduleStatus.STOPPED


def automation_sensor(location: str) -> dg.AutomationConditionSensorDefinition:
    """The sensor that evaluates every automation condition of a code location (``{location}_automation``),
    with the environment's default status in place of Dagster's always-stopped default sensor."""
    return dg.AutomationConditionSensorDefinition(
        f"{location}_automation",
        target=dg.AssetSelection.all(),
        default_status=sensor_status(),
        description="Evaluates the automation conditions of every asset and check of this location.",
    )
