"""The elevation tile index read as hostile input: confined tile URLs, named parse and CRS failures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from landing_zone.defs.elevation.index_source import INDEX_SCHEMA, read_index
from landing_zone.sources import MalformedIndexError, SourceUrlRefused
from tests.sources.http_server import ScriptedServer

pytestmark = [pytest.mark.hostile, pytest.mark.timeout(30)]

GOOD_BBOX = [560000.0, 370000.0, 562000.0, 372000.0]  # EPSG:2180 metres, in Poland


def feature(
    tile_id: str, url: str, crs: str = "EPSG:2180", bbox: list[float] | None = None
) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": tile_id,
        "geometry": None,
        "properties": {
            "tile_id": tile_id,
            "map_sheet": "M-34",
            "region": "pilica",
            "format": "asc",
            "url": url,
            "crs": crs,
            "bbox": bbox or GOOD_BBOX,
            "updated": "2024-05-01T00:00:00+00:00",
        },
    }


def index_text(*features: dict[str, Any]) -> str:
    return json.dumps({"type": "FeatureCollection", "features": list(features)})


def write_index(folder: Path, *features: dict[str, Any]) -> Path:
    path = folder / "elevation" / "dtm" / "index.geojson"
    path.parent.mkdir(parents=True)
    path.write_text(index_text(*features), encoding="utf-8")
    return path


def refusals(index: pl.DataFrame) -> dict[str, str | None]:
    return dict(zip(index["tile_id"], index["refused_reason"], strict=True))


def test_escaping_tile_urls_keep_their_rows_with_the_refusal(tmp_path: Path) -> None:
    (tmp_path / "elevation" / "dtm" / "link").parent.mkdir(parents=True)
    (tmp_path / "elevation" / "dtm" / "link").symlink_to("/etc")
    path = tmp_path / "elevation" / "dtm" / "index.geojson"
    path.write_text(
        index_text(
            feature("good", "tiles/good.asc"),
            feature("environ", "file:///proc/self/environ"),
            feature("passwd", "../../../etc/passwd"),
            feature("absolute", "/etc/passwd"),
            feature("encoded", "tiles/%2e%2e/%2e%2e/%2e%2e/etc/passwd"),
            feature("symlink", "link/passwd"),
            feature("s3", "s3://bucket/elevation/dtm/x.asc"),
        )
    )
    index = read_index(path.as_uri())
    assert index.schema == pl.Schema(INDEX_SCHEMA)
    reasons = refusals(index)
    assert reasons["good"] is None
    assert (
        index.filter(pl.col("tile_id") == "good")["url"].item() == (path.parent / "tiles/good.asc").as_uri()
    )
    for tile in ("environ", "passwd", "absolute", "encoded", "symlink", "s3"):
        reason = reasons[tile]
        assert reason is not None and f"tile {tile!r}" in reason and "refused" in reason, tile
        assert path.as_uri() in reason
    assert "file:///proc/self/environ" in str(reasons["environ"])
    assert "scheme 's3'" in str(reasons["s3"])


def test_an_http_index_may_not_switch_scheme_or_host(server: ScriptedServer) -> None:
    server.route(
        "/wfs/index.geojson",
        body=index_text(
            feature("good", "tiles/good.asc"),
            feature("file", "file:///etc/passwd"),
            feature("evil", "/wfs-evil/x.asc"),
            feature("host", "http://example.invalid/wfs/x.asc"),
        ).encode(),
    )
    reasons = refusals(read_index(server.url("/wfs/index.geojson")))
    assert reasons["good"] is None
    assert "scheme 'file' is not allowed" in str(reasons["file"])
    assert "outside" in str(reasons["evil"]) and "outside" in str(reasons["host"])


def test_extra_allowed_prefixes_admit_a_tile_host(server: ScriptedServer) -> None:
    server.route(
        "/wfs/index.geojson", body=index_text(feature("cdn", "http://cdn.example/dem/x.asc")).encode()
    )
    allowed = [server.url("/wfs/"), "http://cdn.example/dem/"]
    assert refusals(read_index(server.url("/wfs/index.geojson"), allowed)) == {"cdn": None}


def test_a_redirect_of_the_index_off_the_provider_is_refused(server: ScriptedServer) -> None:
    server.route("/elsewhere/index.geojson", body=index_text(feature("a", "x.asc")).encode())
    server.route("/wfs/index.geojson", handler=lambda _: (302, {"Location": "/elsewhere/index.geojson"}, b""))
    with pytest.raises(SourceUrlRefused, match=r"tile index .*/wfs/index.geojson \(redirected\).*refused"):
        read_index(server.url("/wfs/index.geojson"))


def test_a_truncated_index_names_the_url_and_position(tmp_path: Path) -> None:
    path = write_index(tmp_path, feature("a", "tiles/a.asc"))
    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    with pytest.raises(MalformedIndexError) as raised:
        read_index(str(path))
    message = str(raised.value)
    assert message.startswith(f"tile index {path}: not valid JSON at line 1, column ")
    assert f"of {len(text) // 2} bytes" in message and "truncated" in message


def test_a_malformed_feature_names_the_index(tmp_path: Path) -> None:
    path = write_index(tmp_path, feature("a", "tiles/a.asc", bbox=[1.0, 2.0]))
    with pytest.raises(
        MalformedIndexError, match=rf"^tile index {path}: tile index feature 0 \(id 'a'\): field 'bbox'"
    ):
        read_index(str(path))


@pytest.mark.parametrize(
    ("crs", "bbox"),
    [("EPSG:4326", GOOD_BBOX), ("EPSG:2180", [19.1, 51.0, 19.2, 51.1])],
    ids=["metres-declared-as-degrees", "degrees-declared-as-metres"],
)
def test_coordinates_that_do_not_fit_the_crs_name_the_index_and_tile(
    tmp_path: Path, crs: str, bbox: list[float]
) -> None:
    path = write_index(
        tmp_path, feature("fine", "tiles/fine.asc"), feature("N34-12", "tiles/x.asc", crs, bbox)
    )
    with pytest.raises(MalformedIndexError) as raised:
        read_index(str(path))
    message = str(raised.value)
    assert message.startswith(f"tile index {path}: feature 1 (tile 'N34-12'): field 'bbox': ")
    assert f"do not fit the CRS {crs}" in message
    assert raised.value.feature_id == "N34-12" and raised.value.index == 1


def test_the_collection_crs_applies_to_tiles_without_their_own(tmp_path: Path) -> None:
    path = write_index(tmp_path, feature("N34-12", "tiles/x.asc", crs=""))
    document = json.loads(path.read_text())
    document["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4326"}}
    path.write_text(json.dumps(document))
    with pytest.raises(MalformedIndexError, match="do not fit the CRS urn:ogc:def:crs:EPSG::4326"):
        read_index(str(path))
    document["crs"]["properties"]["name"] = "EPSG:2180"
    path.write_text(json.dumps(document))
    assert read_index(str(path)).height == 1


def test_an_unknown_crs_is_named(tmp_path: Path) -> None:
    path = write_index(tmp_path, feature("N34-12", "tiles/x.asc", crs="EPSG:999999"))
    with pytest.raises(MalformedIndexError, match=r"tile 'N34-12'\): field 'crs': unknown CRS 'EPSG:999999'"):
        read_index(str(path))
