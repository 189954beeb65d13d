from pathlib import Path

import pytest

from landing_zone.resources.sources import SourcesResource


def test_sources_default_to_the_sample_region(monkeypatch, tmp_path):
    monkeypatch.setenv("PLATFORM_SAMPLE_REGION", str(tmp_path / "region"))
    sources = SourcesResource.from_environment()
    assert (
        sources.elevation_index_url
        == f"{(tmp_path / 'region').as_uri()}/elevation/{{product}}/index_v2.geojson"
    )
    assert sources.meteo_url.endswith("/stations/meteo/v2/")
    assert sources.satellite_catalog_url.startswith("file://")


def test_each_source_can_be_pointed_elsewhere(monkeypatch):
    monkeypatch.setenv("SOURCE_RIVERS_URL", "https://example.invalid/rivers.geojson")
    sources = SourcesResource.from_environment()
    assert sources.rivers_url == "https://example.invalid/rivers.geojson"
    assert Path(sources.hydro_url.removeprefix("file://")).parts[-3:] == ("stations", "hydro", "v2")


def test_each_source_is_confined_to_its_folder_plus_configured_prefixes(monkeypatch, tmp_path):
    monkeypatch.setenv("PLATFORM_SAMPLE_REGION", str(tmp_path / "region"))
    monkeypatch.setenv(
        "SOURCE_ELEVATION_INDEX_ALLOWED_PREFIXES", " https://tiles.example/dem/ ,s3://dem/tiles/,"
    )
    sources = SourcesResource.from_environment()
    index_url = sources.elevation_index_url.format(product="dtm")
    assert sources.allowed_prefixes("elevation_index", index_url) == (
        f"{(tmp_path / 'region').as_uri()}/elevation/dtm/",
        "https://tiles.example/dem/",
        "s3://dem/tiles/",
    )
    assert sources.allowed_prefixes("meteo") == (sources.meteo_url,)
    assert sources.allowed_prefixes("satellite_catalog") == (
        f"{(tmp_path / 'region').as_uri()}/satellite/v2/",
    )
    with pytest.raises(ValueError, match="unknown source 'radar'"):
        sources.allowed_prefixes("radar")
