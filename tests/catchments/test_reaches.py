"""Reaches of the sample region's rivers: ~100 m, linked downstream, Strahler orders, one outlet."""

import json

import numpy as np
import pytest

from landing_zone.defs.catchments.reaches import (
    RiverLine,
    TopologyError,
    outlets,
    split_rivers,
    strahler_orders,
    topological_order,
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


def test_reaches_on_a_cycle_get_no_order_and_no_place_in_the_order():
    downstream = {"a": "b", "b": "c", "c": "a", "d": "a", "e": None}
    assert strahler_orders(downstream) == {"d": 1, "e": 1}
    assert sorted(topological_order(downstream)) == ["d", "e"]


def test_a_link_to_an_unknown_reach_leaves_the_network():
    downstream = {"a": "x", "b": "a"}
    assert topological_order(downstream) == ["b", "a"]
    assert strahler_orders(downstream) == {"a": 1, "b": 1}
    assert outlets(downstream) == []


def test_a_tributary_into_an_unknown_river_is_refused():
    river = RiverLine("t1", np.array([[0.0, 0.0], [100.0, 0.0]]), "nowhere")
    with pytest.raises(TopologyError, match="river t1 flows into unknown river nowhere"):
        split_rivers([river])


def test_a_tributary_joins_the_reach_that_contains_its_mouth_whatever_the_vertex_spacing():
    main = RiverLine("main", np.array([[0.0, 0.0], [1000.0, 0.0]]), None)
    tributary = RiverLine("t1", np.array([[140.0, 300.0], [140.0, 2.0]]), "main")
    reaches = {reach.reach_id: reach for reach in split_rivers([main, tributary])}
    assert reaches["t1-0002"].downstream == "main-0001"  # main-0001 runs from 100 to 200 m
    assert reaches["main-0001"].order == 2 and reaches["main-0000"].order == 1
