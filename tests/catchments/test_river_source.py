"""The river network document: validated with errors that name the file and the feature."""

import pytest

from landing_zone.defs.catchments.river_source import RiverSourceError, parse_rivers


def feature(river_id, receiving=None, coordinates=((0, 0), (100, 0)), kind="LineString"):
    return {
        "type": "Feature",
        "properties": {"river_id": river_id, "receiving": receiving},
        "geometry": {"type": kind, "coordinates": [list(c) for c in coordinates]},
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
    document = collection(feature("main", coordinates=((19.0, 51.0), (19.0, 51.01))))
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
