"""WFS 2.0 paging against a local service that filters by bbox and pages with count/startIndex, and
strict parsing of the elevation tile index."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import pytest

from landing_zone.sources import MalformedIndexError, TileIndexEntry, WfsClient, WfsError, parse_tile_index
from shared.workers import RetryPolicy
from tests.sources.http_server import ScriptedServer

pytestmark = pytest.mark.timeout(30)

TILE_M = 1000.0
WEST, SOUTH = 500000.0, 300000.0


def _tile(row: int, col: int) -> dict[str, Any]:
    west, south = WEST + col * TILE_M, SOUTH + row * TILE_M
    bbox = [west, south, west + TILE_M, south + TILE_M]
    tile_id = f"M-34-56-{row}{col}"
    return {
        "type": "Feature",
        "id": tile_id,
        "geometry": {
            "type": "Polygon",
            "coordinates": [
                [[west, south], [bbox[2], south], [bbox[2], bbox[3]], [west, bbox[3]], [west, south]]
            ],
        },
        "properties": {
            "tile_id": tile_id,
            "map_sheet": "M-34-56",
            "region": "odra",
            "format": ("asc", "xyz", "tif")[(row + col) % 3],
            "url": f"tiles/v1/{tile_id}.asc",
            "crs": "EPSG:2180",
            "bbox": bbox,
            "updated": "2024-03-01T08:00:00+00:00",
        },
    }


TILES = [_tile(row, col) for row in range(6) for col in range(6)]


def _intersects(tile: dict[str, Any], bbox: list[float]) -> bool:
    west, south, east, north = tile["properties"]["bbox"]
    return west < bbox[2] and east > bbox[0] and south < bbox[3] and north > bbox[1]


def wfs_handler(*, report_matched: bool = True, ignore_start: bool = False):
    """A GetFeature endpoint: checks the standard parameters, filters by bbox, pages by count/startIndex."""

    def handle(query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        expected = {"service": "WFS", "version": "2.0.0", "request": "GetFeature"}
        expected |= {"typeNames": "elevation:dtm_tiles", "outputFormat": "application/json"}
        if any(query.get(key) != value for key, value in expected.items()):
            return 400, {}, b"bad request"
        matching = TILES
        if "bbox" in query:
            *coordinates, crs = query["bbox"].split(",")
            assert crs == "EPSG:2180"
            matching = [tile for tile in TILES if _intersects(tile, [float(c) for c in coordinates])]
        start = 0 if ignore_start else int(query["startIndex"])
        page = matching[start : start + int(query["count"])]
        collection: dict[str, Any] = {"type": "FeatureCollection", "features": page}
        if report_matched:
            collection |= {"numberMatched": len(matching), "numberReturned": len(page)}
        return 200, {"Content-Type": "application/geo+json"}, json.dumps(collection).encode()

    return handle


def _client(server: ScriptedServer, retry: RetryPolicy, base: str = "/wfs") -> WfsClient:
    return WfsClient(server.url(base), "elevation:dtm_tiles", page_size=10, timeout_s=5, retry=retry)


def test_paging_over_three_pages_with_bbox_returns_every_feature_once(
    server: ScriptedServer, fast_retry: RetryPolicy
) -> None:
    server.route("/wfs", handler=wfs_handler())
    bbox = (WEST, SOUTH, WEST + 5 * TILE_M, SOUTH + 5 * TILE_M - 1)
    features = _client(server, fast_retry).get_features(bbox=bbox)
    expected = {f"M-34-56-{row}{col}" for row in range(5) for col in range(5)}
    ids = [feature["id"] for feature in features]
    assert len(ids) == len(expected) == 25
    assert set(ids) == expected
    requests = server.requests_to("/wfs")
    assert [parse_qs(r.query)["startIndex"] for r in requests] == [["0"], ["10"], ["20"]]
    assert "bbox=500000.0,300000.0,505000.0,304999.0,EPSG:2180" in requests[0].query
    assert "count=10" in requests[0].query


@pytest.mark.parametrize(("report_matched", "requests"), [(True, 2), (False, 3)])
def test_exact_multiple_of_page_size(
    server: ScriptedServer, fast_retry: RetryPolicy, report_matched: bool, requests: int
) -> None:
    """With numberMatched the client stops at 20 of 20; without it, it needs the empty third page."""
    server.route("/wfs", handler=wfs_handler(report_matched=report_matched))
    bbox = (WEST, SOUTH, WEST + 5 * TILE_M, SOUTH + 4 * TILE_M)
    features = _client(server, fast_retry).get_features(bbox=bbox)
    assert len({feature["id"] for feature in features}) == len(features) == 20
    assert len(server.requests_to("/wfs")) == requests


def test_no_bbox_pages_through_the_whole_layer(server: ScriptedServer, fast_retry: RetryPolicy) -> None:
    server.route("/wfs", handler=wfs_handler())
    features = _client(server, fast_retry).get_features()
    assert [feature["id"] for feature in features] == [tile["id"] for tile in TILES]
    assert all("bbox" not in parse_qs(r.query) for r in server.requests_to("/wfs"))


def test_base_url_parameters_are_kept_and_wfs_ones_replaced(
    server: ScriptedServer, fast_retry: RetryPolicy
) -> None:
    server.route("/wfs", handler=wfs_handler())
    client = _client(server, fast_retry, base="/wfs?map=dtm&SERVICE=WMS&count=5")
    assert len(client.get_features()) == len(TILES)
    query = parse_qs(server.requests_to("/wfs")[0].query)
    assert query["map"] == ["dtm"]
    assert "SERVICE" not in query
    assert query["count"] == ["10"]


def test_a_failing_page_is_retried(server: ScriptedServer, fast_retry: RetryPolicy) -> None:
    server.route("/wfs", handler=wfs_handler(), fail_first=2, fail_status=502)
    assert len(_client(server, fast_retry).get_features()) == len(TILES)


def test_service_ignoring_start_index_is_detected(server: ScriptedServer, fast_retry: RetryPolicy) -> None:
    server.route("/wfs", handler=wfs_handler(report_matched=False, ignore_start=True))
    with pytest.raises(WfsError, match="ignores startIndex"):
        _client(server, fast_retry).get_features()
    assert len(server.requests_to("/wfs")) == 2


def test_exception_report_instead_of_json(server: ScriptedServer, fast_retry: RetryPolicy) -> None:
    report = (
        b'<?xml version="1.0"?><ows:ExceptionReport><ows:Exception exceptionCode="InvalidParameterValue"/>'
    )
    server.route("/wfs", handler=lambda query: (200, {"Content-Type": "text/xml"}, report))
    with pytest.raises(WfsError, match=r"/wfs: the response is not JSON \(it starts '<\?xml"):
        _client(server, fast_retry).get_features()


def test_invalid_bbox_is_refused_before_any_request(server: ScriptedServer, fast_retry: RetryPolicy) -> None:
    with pytest.raises(ValueError, match="minx < maxx"):
        _client(server, fast_retry).get_features(bbox=(WEST + 10, SOUTH, WEST, SOUTH + 10))
    assert server.requests == []


def test_parse_tile_index_from_paged_features(server: ScriptedServer, fast_retry: RetryPolicy) -> None:
    server.route("/wfs", handler=wfs_handler())
    entries = parse_tile_index(_client(server, fast_retry).get_features())
    assert len(entries) == len(TILES)
    first = entries[0]
    assert isinstance(first, TileIndexEntry)
    assert first.tile_id == "M-34-56-00"
    assert first.bbox == (WEST, SOUTH, WEST + TILE_M, SOUTH + TILE_M)
    assert first.updated == datetime(2024, 3, 1, 8, tzinfo=UTC)
    assert (first.format, first.crs, first.region) == ("asc", "EPSG:2180", "odra")


def test_parse_accepts_a_feature_collection_and_an_index_without_crs() -> None:
    feature = copy.deepcopy(TILES[0])
    feature["properties"]["crs"] = ""  # some providers leave it out for a tile
    entries = parse_tile_index({"type": "FeatureCollection", "features": [feature]})
    assert entries[0].crs == ""


def _broken(change: str) -> tuple[Any, str]:
    """A tile index with one defect, and the field the error must name."""
    features = copy.deepcopy(TILES[:3])
    second = features[1]
    properties = second["properties"]
    if change == "missing format":
        del properties["format"]
        return features, "format"
    if change == "unknown format":
        properties["format"] = "png"
        return features, "format"
    if change == "bbox of three":
        properties["bbox"] = properties["bbox"][:3]
        return features, "bbox"
    if change == "bbox as text":
        properties["bbox"] = ["500000", "300000", "501000", "301000"]
        return features, "bbox"
    if change == "west >= east":
        properties["bbox"] = [501000.0, 300000.0, 500000.0, 301000.0]
        return features, "bbox"
    if change == "naive updated":
        properties["updated"] = "2024-03-01T08:00:00"
        return features, "updated"
    if change == "tile id escapes":
        properties["tile_id"] = "../../dagster"
        return features, "tile_id"
    if change == "tile id with a slash":
        properties["tile_id"] = "M-34/56"
        return features, "tile_id"
    if change == "no properties":
        del second["properties"]
        return features, "properties"
    if change == "not a feature":
        second["type"] = "Polygon"
        return features, "type"
    if change == "duplicate tile":
        features[1] = copy.deepcopy(features[0])
        return features, "tile_id"
    raise AssertionError(change)


BROKEN = [
    "missing format",
    "unknown format",
    "bbox of three",
    "bbox as text",
    "west >= east",
    "naive updated",
    "tile id escapes",
    "tile id with a slash",
    "no properties",
    "not a feature",
    "duplicate tile",
]


@pytest.mark.parametrize("change", BROKEN)
def test_malformed_feature_names_index_id_and_field(change: str) -> None:
    features, field = _broken(change)
    with pytest.raises(MalformedIndexError) as caught:
        parse_tile_index(features)
    error = caught.value
    assert (error.index, error.field) == (1, field)
    assert f"feature 1 (id '{error.feature_id}'): field '{field}'" in str(error)
    assert error.feature_id in ("M-34-56-01", "M-34-56-00")


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"type": "Feature", "features": []}, "type"),
        ({"type": "FeatureCollection"}, "features"),
        ({"type": "FeatureCollection", "features": "none"}, "features"),
        ("not json at all", "features"),
    ],
)
def test_not_a_feature_collection(document: Any, field: str) -> None:
    with pytest.raises(MalformedIndexError) as caught:
        parse_tile_index(document)
    assert caught.value.field == field
    assert f"field '{field}'" in str(caught.value)
