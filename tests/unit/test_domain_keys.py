"""The domains' asset keys: stages are checked, products and networks are whatever YAML instantiates,
and the keys other locations read are the same whether named by the domain or by ``shared/assets``."""

import ast
from pathlib import Path

import pytest
from dagster import AssetKey

from landing_zone.defs.catchments.keys import CATCHMENT_KEYS, catchment_key, hydrography_key
from landing_zone.defs.elevation.keys import elevation_key
from landing_zone.defs.stations.keys import station_key
from shared.assets import landing_zone as contract

DEFS = Path(__file__).resolve().parents[2] / "landing_zone" / "src" / "landing_zone" / "defs"


@pytest.mark.parametrize("domain", ["elevation", "stations", "catchments"])
def test_keys_modules_import_nothing_but_asset_key(domain):
    tree = ast.parse((DEFS / domain / "keys.py").read_text())
    imports = [node for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)]
    named = [(getattr(node, "module", None), [alias.name for alias in node.names]) for node in imports]
    assert named == [("dagster", ["AssetKey"])]


def test_domain_keys_name_the_shared_contract_keys():
    assert elevation_key("dtm", "consolidated") == contract.DTM_CONSOLIDATED
    assert station_key("meteo", "polished_timeseries") == contract.METEO_POLISHED
    assert station_key("hydro", "polished_timeseries") == contract.HYDRO_POLISHED
    assert hydrography_key("rivers_aligned") == contract.RIVERS_ALIGNED
    assert catchment_key("reaches") == contract.REACHES
    assert catchment_key("reach_catchments") == contract.REACH_CATCHMENTS
    assert catchment_key("progressive_catchments") == contract.PROGRESSIVE_CATCHMENTS


def test_a_new_product_or_network_needs_no_code():
    assert elevation_key("nmpt", "raw_tiles") == AssetKey(["elevation", "nmpt", "raw_tiles"])
    assert station_key("snow", "stations") == AssetKey(["snow", "stations"])


def test_unknown_stages_are_refused():
    with pytest.raises(ValueError, match="elevation stage"):
        elevation_key("dtm", "converted")
    with pytest.raises(ValueError, match="station stage"):
        station_key("meteo", "polished")
    with pytest.raises(ValueError, match="hydrography"):
        hydrography_key("lakes")
    with pytest.raises(ValueError, match="catchments"):
        catchment_key("flow_accumulation")


def test_accumulation_stages_nest():
    assert AssetKey(["catchments", "flow_accumulation", "d8"]) in CATCHMENT_KEYS
