"""Static STAC catalogues read over the local HTTP server, filtered by time, and validated offline."""

from __future__ import annotations

import ipaddress
import json
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pystac
import pytest
from pystac.errors import STACValidationError

from landing_zone.sources import OfflineSchemaError, asset_href, list_items, validate_catalog
from landing_zone.sources.confinement import SourceUrlRefused
from landing_zone.sources.urls import split_s3_url
from platform_dev.seaweedfs import SeaweedFS
from shared.workers import RetryPolicy
from tests.sources.http_server import ScriptedServer

pytestmark = pytest.mark.timeout(30)

PROJECTION = "https://stac-extensions.github.io/projection/v2.0.0/schema.json"
EO = "https://stac-extensions.github.io/eo/v2.0.0/schema.json"  # an extension we do not bundle


def _item(month: int) -> pystac.Item:
    item = pystac.Item(
        id=f"s2-2025-{month:02d}",
        geometry={"type": "Polygon", "coordinates": [[[17, 51], [18, 51], [18, 52], [17, 52], [17, 51]]]},
        bbox=[17, 51, 18, 52],
        datetime=datetime(2025, month, 1, tzinfo=UTC),
        properties={},
    )
    item.add_asset("cog", pystac.Asset("./composite.tif", media_type=pystac.MediaType.COG, roles=["data"]))
    return item


@pytest.fixture
def catalog_dir(tmp_path: Path) -> Path:
    """A catalogue with one collection of two monthly composites, each with a relative COG asset."""
    catalog = pystac.Catalog("imagery", "Monthly composites of the sample region")
    extent = pystac.Extent(
        pystac.SpatialExtent([[17, 51, 18, 52]]),
        pystac.TemporalExtent([[datetime(2025, 1, 1, tzinfo=UTC), None]]),
    )
    collection = pystac.Collection("s2-monthly", "Sentinel-2 monthly composites", extent, license="CC-BY-4.0")
    for month in (1, 2):
        collection.add_item(_item(month))
    catalog.add_child(collection)
    root = tmp_path / "stac"
    catalog.normalize_hrefs(str(root))
    catalog.save(pystac.CatalogType.SELF_CONTAINED)
    return root


@pytest.fixture
def served(server: ScriptedServer, catalog_dir: Path) -> Callable[[], str]:
    """Serve the catalogue folder as it is at call time (tests may edit it first); return the root URL."""

    def serve() -> str:
        server.serve_directory("/stac", catalog_dir)
        return server.url("/stac/catalog.json")

    return serve


@pytest.fixture
def network_attempts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Refuse, and record, any name lookup or connection that is not to a loopback address."""
    attempts: list[str] = []
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in ("127.0.0.1", "localhost", "::1"):
            attempts.append(f"lookup {host}")
            raise OSError(f"network guard: no lookup of {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(self: socket.socket, address: Any) -> None:
        if isinstance(address, tuple) and not ipaddress.ip_address(address[0]).is_loopback:
            attempts.append(f"connect {address[0]}")
            raise OSError(f"network guard: no connection to {address[0]}")
        real_connect(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    return attempts


def test_items_over_http_with_absolute_asset_hrefs(
    served: Callable[[], str], server: ScriptedServer, fast_retry: RetryPolicy
) -> None:
    items = list_items(served(), retry=fast_retry)
    assert [item.id for item in items] == ["s2-2025-01", "s2-2025-02"]
    assert asset_href(items[1], "cog") == server.url("/stac/s2-monthly/s2-2025-02/composite.tif")
    # Every read went through the platform's HTTP plumbing, not pystac's own requests.
    assert {r.headers["User-Agent"] for r in server.requests} == {"water-platform-landing-zone"}
    with pytest.raises(KeyError, match=r"no asset 'data' \(it has \['cog'\]\)"):
        asset_href(items[0], "data")


def test_items_since_and_by_collection(served: Callable[[], str], fast_retry: RetryPolicy) -> None:
    url = served()
    february = datetime(2025, 2, 1, tzinfo=UTC)
    assert [item.id for item in list_items(url, since=february, retry=fast_retry)] == ["s2-2025-02"]
    assert [item.id for item in list_items(url, "s2-monthly", since=february, retry=fast_retry)] == [
        "s2-2025-02"
    ]
    assert list_items(url, since=datetime(2026, 1, 1, tzinfo=UTC), retry=fast_retry) == []
    with pytest.raises(KeyError, match="no collection 'dsm'"):
        list_items(url, "dsm", retry=fast_retry)
    with pytest.raises(ValueError, match="timezone-aware"):
        list_items(url, since=datetime(2025, 2, 1))


def test_collection_root_and_local_path(catalog_dir: Path) -> None:
    collection_path = catalog_dir / "s2-monthly" / "collection.json"
    for url in (str(catalog_dir / "catalog.json"), collection_path.as_uri(), str(collection_path)):
        items = list_items(url)
        assert [item.id for item in items] == ["s2-2025-01", "s2-2025-02"]
    assert asset_href(items[0], "cog") == str(catalog_dir / "s2-monthly" / "s2-2025-01" / "composite.tif")


def test_validation_is_offline(
    served: Callable[[], str], network_attempts: list[str], fast_retry: RetryPolicy
) -> None:
    assert validate_catalog(served(), retry=fast_retry) == 4  # catalogue, collection, two items
    assert network_attempts == []


def test_the_network_guard_catches_a_schema_download(catalog_dir: Path, network_attempts: list[str]) -> None:
    """pystac's stock validator reaches out for an extension schema; the guard sees and refuses it."""
    item = json.loads((catalog_dir / "s2-monthly" / "s2-2025-01" / "s2-2025-01.json").read_text())
    item["stac_extensions"] = [PROJECTION]
    with pytest.raises(Exception):  # noqa: B017 - whatever pystac wraps the refused connection in
        pystac.validation.validate_dict(item, validator=pystac.validation.JsonSchemaSTACValidator())
    assert set(network_attempts) == {"lookup stac-extensions.github.io"}


def test_invalid_item_fails_with_its_id(
    served: Callable[[], str], catalog_dir: Path, fast_retry: RetryPolicy
) -> None:
    path = catalog_dir / "s2-monthly" / "s2-2025-02" / "s2-2025-02.json"
    item = json.loads(path.read_text())
    item["bbox"] = "everywhere"
    path.write_text(json.dumps(item))
    with pytest.raises(STACValidationError, match="with ID s2-2025-02"):
        validate_catalog(served(), retry=fast_retry)


def _declare(catalog_dir: Path, extension: str, **fields: Any) -> Path:
    """Make the first item declare ``extension`` and carry ``fields`` in its properties."""
    path = catalog_dir / "s2-monthly" / "s2-2025-01" / "s2-2025-01.json"
    item = json.loads(path.read_text())
    item["stac_extensions"] = [extension]
    item["properties"] |= fields
    path.write_text(json.dumps(item))
    return path


def test_bundled_projection_extension_validates_offline(
    served: Callable[[], str], catalog_dir: Path, network_attempts: list[str], fast_retry: RetryPolicy
) -> None:
    _declare(catalog_dir, PROJECTION, **{"proj:code": "EPSG:32634", "proj:shape": [10, 20]})
    assert validate_catalog(served(), retry=fast_retry) == 4
    assert network_attempts == []


def test_bundled_projection_schema_is_enforced(
    catalog_dir: Path, network_attempts: list[str], fast_retry: RetryPolicy
) -> None:
    """Version 2 of the extension made ``proj:code`` a string: the old integer EPSG code fails."""
    _declare(catalog_dir, PROJECTION, **{"proj:code": 32634})
    with pytest.raises(STACValidationError, match=f"with ID s2-2025-01 against schema at {PROJECTION}"):
        validate_catalog(str(catalog_dir / "catalog.json"), retry=fast_retry)
    assert network_attempts == []


def test_extension_without_bundled_schema_is_named_not_fetched(
    served: Callable[[], str], catalog_dir: Path, network_attempts: list[str], fast_retry: RetryPolicy
) -> None:
    _declare(catalog_dir, EO)
    with pytest.raises(OfflineSchemaError, match=f"'s2-2025-01'.*extension {EO} has no bundled schema"):
        validate_catalog(served(), retry=fast_retry)
    assert network_attempts == []


def test_items_over_s3_stay_under_the_catalogue_prefix(
    catalog_dir: Path, seaweedfs: SeaweedFS, s3_url: str, fast_retry: RetryPolicy
) -> None:
    """A static catalogue on S3-compatible storage reads like one on disk; a link out of its prefix fails."""
    bucket, prefix = split_s3_url(s3_url)
    client = seaweedfs.client()
    for path in catalog_dir.rglob("*.json"):
        key = f"{prefix}/{path.relative_to(catalog_dir).as_posix()}"
        client.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
    url = f"{s3_url}/catalog.json"
    items = list_items(url, retry=fast_retry)
    assert [item.id for item in items] == ["s2-2025-01", "s2-2025-02"]
    assert asset_href(items[0], "cog") == f"{s3_url}/s2-monthly/s2-2025-01/composite.tif"
    catalog = json.loads((catalog_dir / "catalog.json").read_text())
    catalog["links"].append({"rel": "child", "href": f"s3://{bucket}/elsewhere/catalog.json"})
    client.put_object(Bucket=bucket, Key=f"{prefix}/catalog.json", Body=json.dumps(catalog).encode())
    with pytest.raises(SourceUrlRefused, match=r"elsewhere/catalog\.json refused: it lies outside"):
        list_items(url, retry=fast_retry)


def test_other_stac_version_is_refused_offline(
    catalog_dir: Path, network_attempts: list[str], fast_retry: RetryPolicy
) -> None:
    path = catalog_dir / "catalog.json"
    catalog = json.loads(path.read_text())
    catalog["stac_version"] = "1.0.0"
    path.write_text(json.dumps(catalog))
    with pytest.raises(OfflineSchemaError, match=r"no bundled schema for STAC 1\.0\.0 Catalog"):
        validate_catalog(str(path), retry=fast_retry)
    assert network_attempts == []
