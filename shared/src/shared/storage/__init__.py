"""One storage API over local directories and S3, and the layout contract of object keys."""

from __future__ import annotations

import os
from pathlib import Path

from shared.storage.base import (
    InsufficientDiskError,
    ObjectInfo,
    ObjectNotFoundError,
    Storage,
    StorageError,
    StorageUnavailableError,
)
from shared.storage.layout import AssetLocation, InvalidLayoutError
from shared.storage.local import LocalStorage
from shared.storage.s3 import S3Storage

__all__ = [
    "AssetLocation",
    "InsufficientDiskError",
    "InvalidLayoutError",
    "LocalStorage",
    "ObjectInfo",
    "ObjectNotFoundError",
    "S3Storage",
    "Storage",
    "StorageError",
    "StorageUnavailableError",
    "open_storage",
]


def open_storage(url: str, endpoint_url: str | None = None, region: str | None = None) -> Storage:
    """Storage for a root URL: ``s3://bucket/prefix`` or a local directory (``file://`` or a plain path).

    The S3 endpoint and region default to the standard AWS variables, so the same configuration drives
    boto3, GDAL and polars.
    """
    if url.startswith("s3://"):
        endpoint = endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        return S3Storage(url, endpoint_url=endpoint, region=region)
    if "://" in url and not url.startswith("file://"):
        raise StorageError(f"storage URL {url!r}: only s3:// and local paths are supported")
    return LocalStorage(Path(url.removeprefix("file://")))
