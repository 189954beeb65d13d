"""What an operator finds after deploying, per environment, read from both code locations as loaded.

Each environment loads the locations in a subprocess of its own, since ``PLATFORM_ENV`` and
``FORECAST_PUBLICATION_DELAY_MINUTES`` are read when a location loads: in production every sensor and
schedule runs by default, locally none does; the daily station syncs tick at 06:00 UTC; the forecasts' and
polished observations' freshness windows follow the run cron, the publication delay and the sync.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

LOCATIONS = ("landing_zone", "discharge_model")
PROBE = """
import json, sys
out = {}
for location in sys.argv[1:]:
    repo = __import__(f"{location}.definitions", fromlist=["defs"]).defs.get_repository_def()
    graph = repo.asset_graph
    policies = {key: graph.get(key).freshness_policy for key in graph.get_all_asset_keys()}
    out[location] = {
        "sensors": {s.name: s.default_status.value for s in repo.sensor_defs},
        "schedules": {
            s.name: [s.default_status.value, s.cron_schedule, s.execution_timezone]
            for s in repo.schedule_defs
        },
        "freshness": {
            key.to_user_string(): [
                policy.fail_window.to_timedelta().total_seconds(),
                policy.warn_window.to_timedelta().total_seconds() if policy.warn_window else None,
            ]
            for key, policy in policies.items()
            if policy is not None
        },
    }
print(json.dumps(out))
"""
LOCAL: dict[str, str] = {}
PRODUCTION = {
    "PLATFORM_ENV": "production",
    "PLATFORM_STORAGE_URL": "s3://platform/data",
    "FORECAST_PUBLICATION_DELAY_MINUTES": "300",
}
FORECAST_ASSETS = {
    "landing_zone": ["forecast/grib/fields", "features/catchment_forecast_forcings"],
    "discharge_model": ["discharge_model/discharge_forecast"],
}
POLISHED = ["meteo/polished_timeseries", "hydro/polished_timeseries"]
HOURS = 3600.0


def loaded(environment: dict[str, str]) -> dict:
    """Both locations loaded under ``environment`` (on top of this one, less the variables it sets)."""
    base = {
        name: value
        for name, value in os.environ.items()
        if name not in {"PLATFORM_ENV", "PLATFORM_STORAGE_URL", "FORECAST_PUBLICATION_DELAY_MINUTES"}
    }
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *LOCATIONS],
        capture_output=True,
        text=True,
        env={**base, **environment},
        cwd=REPO,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def local() -> dict:
    return loaded(LOCAL)


@pytest.fixture(scope="module")
def production() -> dict:
    return loaded(PRODUCTION)


@pytest.mark.parametrize(("environment", "status"), [("local", "STOPPED"), ("production", "RUNNING")])
def test_every_sensor_and_schedule_runs_by_default_in_production_only(environment, status, request):
    probe = request.getfixturevalue(environment)
    for location in LOCATIONS:
        instigators = {
            **probe[location]["sensors"],
            **{name: schedule[0] for name, schedule in probe[location]["schedules"].items()},
        }
        assert instigators, location
        assert {name: state for name, state in instigators.items() if state != status} == {}, location


def test_each_location_declares_its_automation_sensor(local):
    """Dagster's own default automation sensor is always stopped by default: each location declares the
    one sensor that evaluates its automation conditions, so production propagates without an operator."""
    for location in LOCATIONS:
        sensors = local[location]["sensors"]
        assert f"{location}_automation" in sensors, location
        assert "default_automation_condition_sensor" not in sensors, location
    assert {"meteo_sync_sensor", "hydro_sync_sensor", "late_forecast_runs_sensor"} <= set(
        local["landing_zone"]["sensors"]
    )


def test_each_station_network_syncs_daily_at_six_utc(local):
    schedules = local["landing_zone"]["schedules"]
    for network in ("meteo", "hydro"):
        assert schedules[f"{network}_sync_schedule"][1:] == ["0 6 * * *", "UTC"]


def test_freshness_windows_follow_the_run_cron_the_publication_delay_and_the_sync(local, production):
    """Forecasts: one run interval (6 h, cron ``0 */6 * * *``) plus the publication delay (4 h 30 by default,
    5 h from the environment), warning at half the delay; polished observations: a day plus the sync's 3 h
    slack, warning at half of it. Only these assets carry a policy."""
    for probe, delay in ((local, 4.5), (production, 5.0)):
        forecast = [(6 + delay) * HOURS, (6 + delay / 2) * HOURS]
        for location in LOCATIONS:
            expected = {key: forecast for key in FORECAST_ASSETS[location]}
            if location == "landing_zone":
                expected |= {key: [27 * HOURS, 25.5 * HOURS] for key in POLISHED}
            assert probe[location]["freshness"] == expected, location
