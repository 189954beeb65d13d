"""The catalogue placement rules of :mod:`shared.asset_groups` (the running UI's view is
tests/integration/test_catalogue_graphql.py)."""

import dagster as dg
import pytest

from shared.asset_groups import OWNERS, group_of, in_catalogue, placed
from shared.assets.landing_zone import CATCHMENT_FORCINGS, CATCHMENT_FORECAST_FORCINGS, DTM_CONSOLIDATED


def test_the_longest_prefix_decides() -> None:
    assert group_of(CATCHMENT_FORCINGS) == "features"
    assert group_of(CATCHMENT_FORECAST_FORCINGS) == "forecast"
    assert group_of(DTM_CONSOLIDATED) == "elevation_dtm"
    assert group_of(dg.AssetKey(["elevation", "dsm", "consolidated"])) == "elevation_dsm"


def test_an_unplaced_key_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="elevation/lidar/points has no catalogue group"):
        group_of(dg.AssetKey(["elevation", "lidar", "points"]))


def test_owners_named_on_an_asset_are_kept() -> None:
    spec = placed(dg.AssetSpec(DTM_CONSOLIDATED, owners=["someone@example.com"]))
    assert spec.group_name == "elevation_dtm"
    assert list(spec.owners) == ["someone@example.com", *OWNERS["elevation_dtm"]]


def test_an_asset_listed_twice_is_placed_once() -> None:
    """The defs-folder loader lists an asset once per module holding it; mapping each copy separately
    would leave two definitions of one key."""

    @dg.asset(key=DTM_CONSOLIDATED, check_specs=[dg.AssetCheckSpec("coverage", asset=DTM_CONSOLIDATED)])
    def consolidated() -> dg.MaterializeResult:
        return dg.MaterializeResult()

    graph = in_catalogue(dg.Definitions(assets=[consolidated, consolidated])).resolve_asset_graph()
    (assets_def,) = graph.assets_defs
    assert assets_def.specs_by_key[DTM_CONSOLIDATED].group_name == "elevation_dtm"
    assert [check.name for check in assets_def.check_specs] == ["coverage"]
