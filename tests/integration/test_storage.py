"""The storage API on both flavours: a local directory and a real S3 server (SeaweedFS)."""

from pathlib import Path

import pytest

from shared.storage import InsufficientDiskError, ObjectNotFoundError, StorageError, open_storage


def test_put_get_exists_list_delete(any_storage, tmp_path):
    storage = any_storage.get_storage()
    source = tmp_path / "source.bin"
    source.write_bytes(b"elevation" * 1000)
    info = storage.put_file(source, "a/b/part.tif")
    assert info.size == 9000
    assert storage.exists("a/b/part.tif")
    assert not storage.exists("a/b/other.tif")
    assert storage.get_bytes("a/b/part.tif") == source.read_bytes()
    copy = storage.get_file("a/b/part.tif", tmp_path / "copy" / "part.tif")
    assert copy.read_bytes() == source.read_bytes()
    storage.put_bytes(b"x", "a/c/part.parquet")
    storage.put_bytes(b"y", "ab/part.parquet")
    assert [info.key for info in storage.list("a/")] == ["a/b/part.tif", "a/c/part.parquet"]
    assert storage.delete("a/b/part.tif") is True
    assert storage.delete("a/b/part.tif") is False
    assert not storage.exists("a/b/part.tif")


def test_missing_object_error_names_the_uri(any_storage, tmp_path):
    storage = any_storage.get_storage()
    with pytest.raises(ObjectNotFoundError, match=r"missing/part.parquet"):
        storage.get_bytes("missing/part.parquet")
    with pytest.raises(ObjectNotFoundError, match=r"missing/part.parquet"):
        storage.get_file("missing/part.parquet", tmp_path / "x")
    with pytest.raises(ObjectNotFoundError):
        storage.stat("missing/part.parquet")


@pytest.mark.parametrize("key", ["../escape.txt", "/abs/path.txt", "a/../../b.txt", "a\\b.txt", ""])
def test_keys_cannot_escape_the_root(any_storage, key):
    with pytest.raises(StorageError, match=r"not a relative key"):
        any_storage.get_storage().put_bytes(b"x", key)


def test_failed_writer_keeps_previous_object_and_leaves_no_partial(any_storage):
    storage = any_storage.get_storage()
    storage.put_bytes(b"previous", "t/part.parquet")
    with pytest.raises(RuntimeError, match=r"asset failed"), storage.writer("t/part.parquet") as path:
        path.write_bytes(b"half-writ")
        raise RuntimeError("asset failed while writing")
    assert storage.get_bytes("t/part.parquet") == b"previous"
    assert [info.key for info in storage.list("t/")] == ["t/part.parquet"]


def test_gdal_and_polars_settings_derive_from_one_configuration(any_storage):
    storage = any_storage.get_storage()
    if storage.url.startswith("s3://"):
        assert storage.gdal_path("a/part.tif").startswith("/vsis3/platform-test/")
        options = storage.gdal_options()
        assert options["AWS_HTTPS"] == "NO" and options["AWS_VIRTUAL_HOSTING"] == "FALSE"
        assert options["AWS_S3_ENDPOINT"] == storage.endpoint_url.removeprefix("http://")
        assert storage.polars_options()["aws_endpoint_url"] == storage.endpoint_url
        everything = str(options) + str(storage.polars_options())
        assert "SECRET" not in everything.upper() and "ACCESS_KEY" not in everything.upper()
    else:
        assert Path(storage.gdal_path("a/part.tif")).is_absolute()
        assert storage.gdal_options() == {"GDAL_PAM_ENABLED": "NO"} and storage.polars_options() is None


def test_stage_files_gives_local_copies_in_order(any_storage, tmp_path):
    storage = any_storage.get_storage()
    storage.put_bytes(b"first tile", "tiles/a/part.tif")
    storage.put_bytes(b"second tile", "tiles/b/part.tif")
    staged = storage.stage_files(["tiles/b/part.tif", "tiles/a/part.tif"], tmp_path / "staging")
    assert [path.read_bytes() for path in staged] == [b"second tile", b"first tile"]
    assert all(path.is_file() and path.name == "part.tif" for path in staged)


def test_staging_refuses_to_fill_the_disk(s3_storage, tmp_path):
    storage = s3_storage.get_storage()
    storage.put_bytes(b"x" * 1000, "tiles/part.tif")
    with pytest.raises(InsufficientDiskError, match="point TMPDIR at a larger volume"):
        storage.stage_files(["tiles/part.tif"], tmp_path / "staging", spare_factor=1e15)
    assert not any((tmp_path / "staging").rglob("*.tif"))


def test_gdal_options_derive_the_endpoint_from_aws_endpoint_url(monkeypatch):
    """GDAL ignores AWS_ENDPOINT_URL, so the storage translates it into GDAL's own variables."""
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://127.0.0.1:8443")
    options = open_storage("s3://bucket/prefix").gdal_options()
    assert options["AWS_S3_ENDPOINT"] == "127.0.0.1:8443"
    assert options["AWS_HTTPS"] == "YES"
    assert options["AWS_VIRTUAL_HOSTING"] == "FALSE"
    assert options["GDAL_PAM_ENABLED"] == "NO"
