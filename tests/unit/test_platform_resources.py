from pathlib import Path

import pytest
from dagster import EnvVar

from shared.io_managers.parquet import ParquetIOManager
from shared.io_managers.raster import RasterIOManager
from shared.resources.duckdb_checks import DuckDBChecksResource
from shared.resources.platform import platform_resources, storage_resource
from shared.storage import LocalStorage, S3Storage, StorageError, open_storage


def test_local_is_the_default(monkeypatch, tmp_path):
    monkeypatch.delenv("PLATFORM_ENV", raising=False)
    monkeypatch.delenv("PLATFORM_STORAGE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    resource = storage_resource()
    assert Path(resource.url) == tmp_path / ".data"
    assert isinstance(resource.get_storage(), LocalStorage)


def test_local_root_can_be_moved(monkeypatch, tmp_path):
    monkeypatch.setenv("PLATFORM_STORAGE_URL", str(tmp_path / "elsewhere"))
    assert storage_resource().url == str(tmp_path / "elsewhere")


def test_production_reads_the_url_through_envvar(monkeypatch):
    monkeypatch.setenv("PLATFORM_ENV", "production")
    monkeypatch.setenv("PLATFORM_STORAGE_URL", "s3://water-prod/platform")
    resources = platform_resources()
    assert resources["storage"].url == EnvVar("PLATFORM_STORAGE_URL")
    assert isinstance(resources["io_manager"], ParquetIOManager)
    assert isinstance(resources["raster_io_manager"], RasterIOManager)
    assert isinstance(resources["duckdb"], DuckDBChecksResource)


@pytest.mark.parametrize("url", ["", "/data/local", "gs://bucket/x"])
def test_production_refuses_anything_but_s3(monkeypatch, url):
    monkeypatch.setenv("PLATFORM_ENV", "production")
    monkeypatch.setenv("PLATFORM_STORAGE_URL", url)
    with pytest.raises(ValueError, match="production needs PLATFORM_STORAGE_URL=s3://"):
        storage_resource()


def test_unknown_environment_is_named(monkeypatch):
    monkeypatch.setenv("PLATFORM_ENV", "staging")
    with pytest.raises(ValueError, match="PLATFORM_ENV='staging'"):
        storage_resource()


def test_s3_endpoint_and_region_come_from_aws_variables(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9999")
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    storage = open_storage("s3://bucket/prefix")
    assert isinstance(storage, S3Storage)
    assert storage.gdal_options()["AWS_S3_ENDPOINT"] == "127.0.0.1:9999"
    assert storage.polars_options() == {
        "aws_region": "eu-central-1",
        "aws_endpoint_url": "http://127.0.0.1:9999",
        "aws_allow_http": "true",
    }
    assert storage.uri("a/part.tif") == "s3://bucket/prefix/a/part.tif"


def test_unsupported_scheme_is_refused():
    with pytest.raises(StorageError, match="only s3:// and local paths"):
        open_storage("gs://bucket/prefix")
