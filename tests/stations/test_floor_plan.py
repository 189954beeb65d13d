"""The station domain keeps the floor plan: its plain modules (listing, raw layer, plan, formats,
polishing) import no Dagster, and each network of the location is the instance its ``defs.yaml`` declares."""

from pathlib import Path

import pytest

from landing_zone.defs import stations
from landing_zone.defs.stations.definitions import StationNetwork
from landing_zone.defs.stations.keys import STATION_STAGES
from tests.elevation.test_floor_plan import component_origins, imports_dagster, plain_modules


@pytest.mark.parametrize("module", plain_modules(stations))
def test_plain_modules_import_no_dagster(module):
    assert not imports_dagster(module)


@pytest.mark.parametrize("network", ["meteo", "hydro"])
def test_each_network_is_one_yaml_instance(network):
    assert (Path(str(stations.__file__)).parent / network / "defs.yaml").is_file()
    origins = component_origins((network,), STATION_STAGES)
    assert origins == [StationNetwork(network=network)] * len(STATION_STAGES)
