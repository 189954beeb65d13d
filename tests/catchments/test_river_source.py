"""The river network document: validated with errors that name the file and the feature."""

import pyproj
import pytest
import shapely

from landing_zone.defs.catchments.river_source import (
    RiverSourceError,
    check_rivers_reach,
    parse_river_network,
    parse_rivers,
)

ORIGIN = (560_000.0, 360_000.0)
"""Where the toy rivers lie in EPSG:2180 (central Poland), so their CRS fits them."""


def feature(river_id, receiving=None, coordinates=((0, 0), (100, 0)), kind="LineString", origin=ORIGIN):
    """A river whose ``coordinates`` are offsets from ``origin``."""
    return {
        "type": "Feature",
        "properties": {"river_id": river_id, "receiving": receiving},
        "geometry": {
            "type": kind,
            "coordinates": [[origin[0] + c[0], origin[1] + c[1]] for c in coordinates],
        },
    }


def collection(*features, crs="EPSG:2180"):
    return {"type": "FeatureCollection", "crs": {"properties": {"name": crs}}, "features": list(features)}


def test_a_valid_network_keeps_ids_links_lengths_and_crs():
    layer = parse_rivers(
        collection(feature("main"), feature("t1", "main", ((0, 50), (30, 90)))), "rivers.json"
    )
    assert layer.crs == "EPSG:2180"
    assert layer.frame.select("river_id", "receiving", "length_m").rows() == [
        ("main", None, 100.0),
        ("t1", "main", 50.0),
    ]


def test_geojson_without_crs_is_wgs84_with_lengths_in_metres():
    document = collection(feature("main", coordinates=((19.0, 51.0), (19.0, 51.01)), origin=(0, 0)))
    del document["crs"]
    layer = parse_rivers(document, "rivers.json")
    assert layer.crs == "EPSG:4326"
    assert layer.frame["length_m"][0] == pytest.approx(1112.6, abs=1.0)  # 0.01° of latitude at 51° N


@pytest.mark.parametrize(
    ("features", "message"),
    [
        (
            [feature("main"), feature("t1", "nowhere")],
            "rivers.json: river t1 flows into unknown river nowhere",
        ),
        ([feature("main"), feature("main")], "rivers.json: river_id not unique: \\['main'\\]"),
        ([feature("")], "rivers.json: feature 0: no river_id"),
        ([feature("main", kind="MultiLineString")], "feature 0 \\(main\\): geometry is MultiLineString"),
        ([feature("main"), feature("t1", "main", ((0, 0),))], "feature 1 \\(t1\\): needs at least two"),
        ([], "expected a FeatureCollection with at least one river"),
    ],
)
def test_bad_networks_are_refused_naming_file_and_feature(features, message):
    with pytest.raises(RiverSourceError, match=message):
        parse_rivers(collection(*features), "rivers.json")


def parse_network(*features, crs="EPSG:2180"):
    return parse_river_network(collection(*features, crs=crs), "rivers.json")


@pytest.mark.hostile
def test_projected_coordinates_without_a_crs_are_refused_as_a_missing_crs():
    document = collection(feature("main"))
    del document["crs"]
    with pytest.raises(
        RiverSourceError,
        match=r"rivers.json: feature 0 \(main\): vertex \(560000.0, 360000.0\) "
        r"is not longitude/latitude.*the CRS is missing",
    ):
        parse_rivers(document, "rivers.json")


@pytest.mark.hostile
def test_a_declared_geographic_crs_with_metre_coordinates_is_refused():
    with pytest.raises(
        RiverSourceError,
        match=r"feature 0 \(main\): .*outside the longitude/latitude range "
        "of the declared CRS EPSG:4326",
    ):
        parse_network(feature("main"), crs="EPSG:4326")


@pytest.mark.hostile
def test_a_declared_crs_that_does_not_fit_the_coordinates_is_refused():
    # EPSG:2177 (CS2000 zone 6) eastings start at 6.4 million: 560 000 puts the rivers in the Atlantic.
    with pytest.raises(
        RiverSourceError,
        match=r"rivers.json: the rivers' extent \(560000, 360000, 560100, "
        r"360000\) in the declared CRS EPSG:2177 .* outside the area where EPSG:2177 is used",
    ):
        parse_network(feature("main"), crs="EPSG:2177")


@pytest.mark.hostile
def test_the_same_crs_with_coordinates_in_its_area_is_accepted():
    layer = parse_network(feature("main", origin=(6_500_000.0, 5_700_000.0)), crs="EPSG:2177").layer
    assert layer.crs == "EPSG:2177" and layer.frame["length_m"].to_list() == [100.0]


@pytest.mark.hostile
@pytest.mark.parametrize("crs", ["EPSG:999999", "not a crs"])
def test_an_unknown_crs_is_refused_naming_it(crs):
    with pytest.raises(RiverSourceError, match=f"rivers.json: declared CRS '{crs}' is not a CRS PROJ knows"):
        parse_network(feature("main"), crs=crs)


@pytest.mark.hostile
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), None])
def test_non_finite_coordinates_are_refused_naming_the_feature_and_vertex(bad):
    river = feature("t1", "main", ((0, 50), (30, 90), (60, 120)))
    river["geometry"]["coordinates"][1][1] = bad
    with pytest.raises(RiverSourceError, match=r"rivers.json: feature 1 \(t1\): vertex 1 is not finite"):
        parse_network(feature("main"), river)


@pytest.mark.hostile
@pytest.mark.parametrize("coordinates", [[[1, 2], [3]], [["a", "b"], [1, 2]], [[[1, 2]], [[3, 4]]], 7])
def test_malformed_positions_are_refused_naming_the_feature(coordinates):
    river = feature("main")
    river["geometry"]["coordinates"] = coordinates
    with pytest.raises(RiverSourceError, match=r"rivers.json: feature 0 \(main\): "):
        parse_network(river)


@pytest.mark.hostile
def test_repeated_vertices_are_dropped_and_counted():
    network = parse_network(feature("main", coordinates=((0, 0), (0, 0), (50, 0), (50, 0), (100, 0))))
    assert shapely.get_coordinates(network.layer.geometries()[0]).tolist() == [
        [560_000.0, 360_000.0],
        [560_050.0, 360_000.0],
        [560_100.0, 360_000.0],
    ]
    assert network.metadata() == {
        "repaired_repeated_vertices": 1,
        "repaired_self_crossings": 0,
        "repaired_river_ids": {"repeated_vertices": ["main"]},
    }


@pytest.mark.hostile
def test_a_loop_where_a_river_crosses_itself_is_cut_out_keeping_source_and_mouth():
    # Runs east, turns back north-west and crosses its own first stretch at x=40 before heading south.
    looped = ((0, 0), (100, 0), (100, 50), (40, 50), (40, -100))
    network = parse_network(feature("main", coordinates=looped), feature("t1", "main", ((0, 50), (30, 90))))
    line = network.layer.geometries()[0]
    assert shapely.is_simple(line) and shapely.is_valid(line)
    assert (shapely.get_coordinates(line) - ORIGIN).tolist() == [[0, 0], [40, 0], [40, -100]]
    assert network.layer.frame["length_m"][0] == pytest.approx(140.0)
    assert network.metadata()["repaired_self_crossings"] == 1
    assert network.metadata()["repaired_river_ids"] == {"self_crossings": ["main"]}


@pytest.mark.hostile
def test_a_river_running_back_over_itself_is_cut_back_to_where_it_turned():
    network = parse_network(feature("main", coordinates=((0, 0), (100, 0), (30, 0), (30, -60))))
    assert (shapely.get_coordinates(network.layer.geometries()[0]) - ORIGIN).tolist() == [
        [0, 0],
        [30, 0],
        [30, -60],
    ]


@pytest.mark.hostile
@pytest.mark.parametrize(
    ("coordinates", "message"),
    [
        (((5, 5), (5, 5), (5, 5)), "needs at least two distinct vertices"),
        (((0, 0), (100, 0), (100, 100), (0, 0)), "starts and ends at the same point"),
    ],
)
def test_lines_that_cannot_be_a_river_are_refused_naming_the_feature(coordinates, message):
    with pytest.raises(RiverSourceError, match=rf"rivers.json: feature 1 \(t1\): {message}"):
        parse_network(feature("main"), feature("t1", "main", coordinates))


@pytest.mark.hostile
def test_rivers_that_miss_the_region_are_refused_naming_crs_and_both_extents():
    layer = parse_rivers(collection(feature("main")), "rivers.json")
    far = (700_000.0, 600_000.0, 710_000.0, 610_000.0)
    with pytest.raises(
        RiverSourceError,
        match=r"hydrography/rivers: no river reaches the region: the rivers, "
        r"declared in EPSG:2180 with extent \(560000, 360000, 560100, 360000\), lie at "
        r"\(560000, 360000, 560100, 360000\) in EPSG:2180, but the region covers "
        r"\(700000, 600000, 710000, 610000\)",
    ):
        check_rivers_reach(layer, "hydrography/rivers", "EPSG:2180", far)


@pytest.mark.hostile
def test_rivers_in_another_crs_that_reach_the_region_pass():
    # The same river in lon/lat; the region is the 2180 box around the first half of it.
    transformer = pyproj.Transformer.from_crs("EPSG:2180", "EPSG:4326", always_xy=True)
    lon_lat = [transformer.transform(ORIGIN[0] + dx, ORIGIN[1]) for dx in (0.0, 100.0)]
    document = collection(feature("main", coordinates=lon_lat, origin=(0, 0)), crs="EPSG:4326")
    layer = parse_rivers(document, "rivers.json")
    check_rivers_reach(layer, "hydrography/rivers", "EPSG:2180", (559_990, 359_990, 560_050, 360_010))


@pytest.mark.hostile
def test_nested_loops_and_a_return_through_an_old_vertex_go_in_one_cut():
    # Loops back through (50, 0), a point of its first stretch, after a smaller loop of its own.
    looped = (
        (0, 0),
        (100, 0),
        (100, 60),
        (70, 60),
        (70, 30),
        (90, 30),
        (90, 80),
        (50, 80),
        (50, 0),
        (50, -50),
    )
    network = parse_network(feature("main", coordinates=looped))
    assert (shapely.get_coordinates(network.layer.geometries()[0]) - ORIGIN).tolist() == [
        [0, 0],
        [50, 0],
        [50, -50],
    ]
    assert network.metadata()["repaired_self_crossings"] == 1
