"""The storage API on both flavours: a local directory and a real S3 server (SeaweedFS)."""

from pathlib import Path

import pytest

from shared.storage import ObjectNotFoundError, StorageError


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
