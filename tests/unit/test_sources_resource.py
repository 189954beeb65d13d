from pathlib import Path

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
