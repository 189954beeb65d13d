"""S3-compatible storage through boto3 (AWS S3 in production, SeaweedFS on loopback in tests).

Atomicity comes from S3 itself: a single PUT or a *completed* multipart upload is the only way an object
appears, and boto3's transfer manager aborts the multipart upload when any part fails, so a failed upload
leaves the previous object untouched and no orphaned parts behind.

Credentials are never held here: boto3, GDAL and polars all take them from the environment or the pod's
IAM role, so they never reach Dagster metadata or logs.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from shared.storage.base import ObjectInfo, ObjectNotFoundError, Storage, StorageError, check_key

if TYPE_CHECKING:
    from boto3.s3.transfer import TransferConfig

_MIB = 1024 * 1024
_MISSING_CODES = {"404", "NoSuchKey", "NotFound"}


class S3Storage(Storage):
    """Objects under ``s3://bucket/prefix``; endpoint and region are plain configuration, not secrets.

    Files up to ``multipart_chunk_mib`` go up in one PUT, larger ones in parts of that size, uploaded
    ``max_concurrency`` at a time: 64 MiB parts measured fastest against SeaweedFS (1.25 s for 200 MB
    against 1.53 s with boto3's 8 MiB default) and are within AWS's recommended range.
    """

    def __init__(
        self,
        url: str,
        endpoint_url: str | None = None,
        region: str | None = None,
        multipart_chunk_mib: int = 64,
        max_concurrency: int = 8,
    ) -> None:
        parsed = urlparse(url)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise StorageError(f"storage URL {url!r} is not of the form s3://bucket/prefix")
        self.bucket = parsed.netloc
        self.prefix = parsed.path.strip("/")
        self.url = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        self.endpoint_url = endpoint_url
        self.region = region or "us-east-1"
        self.multipart_chunk_mib = multipart_chunk_mib
        self.max_concurrency = max_concurrency

    @cached_property
    def client(self) -> Any:
        """One boto3 client per storage object (thread-safe, so the worker pool can share it)."""
        import boto3
        from botocore.config import Config

        config = Config(retries={"max_attempts": 5, "mode": "standard"}, max_pool_connections=32)
        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name=self.region, config=config)

    @cached_property
    def _transfer_config(self) -> TransferConfig:
        from boto3.s3.transfer import TransferConfig

        chunk = self.multipart_chunk_mib * _MIB
        return TransferConfig(
            multipart_threshold=chunk, multipart_chunksize=chunk, max_concurrency=self.max_concurrency
        )

    def _object_key(self, key: str) -> str:
        key = check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._object_key(key)}"

    def gdal_path(self, key: str) -> str:
        return f"/vsis3/{self.bucket}/{self._object_key(key)}"

    def gdal_options(self) -> dict[str, str]:
        options = {
            "AWS_REGION": self.region,
            # Without this GDAL lists the "directory" of every file it opens: one extra request per open.
            "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
            "GDAL_PAM_ENABLED": "NO",
        }
        if self.endpoint_url:
            endpoint = urlparse(self.endpoint_url)
            options |= {
                "AWS_S3_ENDPOINT": endpoint.netloc,
                "AWS_HTTPS": "YES" if endpoint.scheme == "https" else "NO",
                "AWS_VIRTUAL_HOSTING": "FALSE",
            }
        return options

    def polars_path(self, key: str) -> str:
        return self.uri(key)

    def polars_options(self) -> dict[str, str] | None:
        options = {"aws_region": self.region}
        if self.endpoint_url:
            options["aws_endpoint_url"] = self.endpoint_url
            options["aws_allow_http"] = str(self.endpoint_url.startswith("http://")).lower()
        return options

    def put_file(self, local_path: Path, key: str) -> ObjectInfo:
        object_key = self._object_key(key)
        try:
            self.client.upload_file(str(local_path), self.bucket, object_key, Config=self._transfer_config)
        except Exception as error:
            raise StorageError(f"upload of {local_path} to {self.uri(key)} failed: {error}") from error
        return self.stat(key)

    def get_file(self, key: str, local_path: Path) -> Path:
        local_path.parent.mkdir(parents=True, exist_ok=True)
        staging = local_path.with_name(f".tmp-{uuid.uuid4().hex}-{local_path.name}")
        try:
            self.client.download_file(
                self.bucket, self._object_key(key), str(staging), Config=self._transfer_config
            )
            staging.replace(local_path)
        except Exception as error:
            raise self._translate(error, key, "download") from error
        finally:
            staging.unlink(missing_ok=True)
        return local_path

    def get_bytes(self, key: str) -> bytes:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._object_key(key))
            return bytes(response["Body"].read())
        except Exception as error:
            raise self._translate(error, key, "read") from error

    def stat(self, key: str) -> ObjectInfo:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self._object_key(key))
        except Exception as error:
            raise self._translate(error, key, "stat") from error
        return self._info(key, head["ContentLength"], head)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        root = f"{self.prefix}/" if self.prefix else ""
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=root + prefix):
            for item in page.get("Contents", []):
                yield self._info(item["Key"][len(root) :], item["Size"], item)

    def delete(self, key: str) -> bool:
        existed = self.exists(key)
        self.client.delete_object(Bucket=self.bucket, Key=self._object_key(key))
        return existed

    def _info(self, key: str, size: int, response: dict[str, Any]) -> ObjectInfo:
        """An :class:`ObjectInfo` from a HEAD response or a listing entry (they name the size differently)."""
        etag = str(response.get("ETag", "")).strip('"') or None
        return ObjectInfo(key, self.uri(key), int(size), response["LastModified"], etag)

    def _translate(self, error: Exception, key: str, action: str) -> StorageError:
        """Map botocore's errors onto ours, keeping the URI in the message."""
        code = str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))
        if code in _MISSING_CODES:
            return ObjectNotFoundError(f"no object at {self.uri(key)}")
        return StorageError(f"{action} of {self.uri(key)} failed: {error}")
