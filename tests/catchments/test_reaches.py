"""Reaches of the sample region's rivers: ~100 m, linked downstream, Strahler orders, one outlet."""

import json

import numpy as np
import pytest

from landing_zone.defs.catchments.reaches import (
    RiverLine,
    TopologyError,
    check_topology,
    outlets,
    split_rivers,
    strahler_orders,
)


def test_sample_rivers_split_into_a_dag_with_one_outlet(small_region):
    features = json.loads((small_region / "hydrography" / "rivers.geojson").read_text())["features"]
    rivers = [
        RiverLine(
            f["properties"]["river_id"], np.array(f["geometry"]["coordinates"]), f["properties"]["receiving"]
        )
        for f in features
    ]
    reaches = split_rivers(rivers)
    downstream = {reach.reach_id: reach.downstream for reach in reaches}
    assert outlets(downstream) == [max(r.reach_id for r in reaches if r.river_id == "main")]
    lengths = np.array([reach.length_m for reach in reaches])
    assert lengths.min() >= 80 and lengths.max() <= 125
    total = sum(float(np.hypot(*np.diff(river.points, axis=0).T).sum()) for river in rivers)
    assert abs(lengths.sum() - total) < 1.0
    orders = {reach.reach_id: reach.order for reach in reaches}
    assert max(orders.values()) == 2 and orders[reaches[0].reach_id] == 1
    for river in rivers[1:]:
        last = max(r.reach_id for r in reaches if r.river_id == river.river_id)
        assert downstream[last].startswith("main-")


def test_a_cycle_is_refused_naming_reaches():
    downstream = {"a": "b", "b": "c", "c": "a", "d": "a", "e": None}
    assert strahler_orders(downstream) == {"d": 1, "e": 1}, "reaches on or below the cycle get no order"
    with pytest.raises(TopologyError, match="3 reaches are on or below a cycle"):
        check_topology(downstream)


def test_a_dangling_link_is_refused():
    with pytest.raises(TopologyError, match="drains into unknown reach x"):
        check_topology({"a": "x"})


def test_a_network_without_outlet_is_refused():
    with pytest.raises(TopologyError, match="no outlet"):
        check_topology({})
