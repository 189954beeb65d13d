"""Credentials in a configured source URL reach the provider's own host and nothing stored."""

from landing_zone.sources.urls import with_userinfo_of, without_userinfo


def test_credentials_are_stripped_for_storage():
    assert without_userinfo("https://user:token@tiles.example.org/dem/N1.tif?v=2") == (
        "https://tiles.example.org/dem/N1.tif?v=2"
    )
    assert without_userinfo("file:///data/dem/N1.tif") == "file:///data/dem/N1.tif"


def test_credentials_are_lent_to_the_index_host_only():
    index = "https://user:token@tiles.example.org/dem/index.geojson"
    assert with_userinfo_of("https://tiles.example.org/dem/N1.tif", index) == (
        "https://user:token@tiles.example.org/dem/N1.tif"
    )
    for elsewhere in (
        "https://other.example.org/dem/N1.tif",
        "http://tiles.example.org/dem/N1.tif",
        "https://tiles.example.org:8443/dem/N1.tif",
    ):
        assert with_userinfo_of(elsewhere, index) == elsewhere
    assert with_userinfo_of("https://tiles.example.org/a.tif", "https://tiles.example.org/i.json") == (
        "https://tiles.example.org/a.tif"
    )
