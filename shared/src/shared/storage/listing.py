"""Print what is stored under the configured storage root, with URIs to paste into QGIS or polars.

``python -m shared.storage.listing`` (the last step of ``make demo``).
"""

from __future__ import annotations

from shared.resources.platform import storage_resource


def main() -> None:
    storage = storage_resource().get_storage()
    objects = list(storage.list())
    print(f"\n{len(objects)} objects under {storage.url}:")
    for info in objects:
        gdal_path = storage.gdal_path(info.key)
        gdal_hint = f"  (GDAL: {gdal_path})" if gdal_path != info.uri else ""
        print(f"  {info.uri}  {info.size / 1e6:.2f} MB{gdal_hint}")


if __name__ == "__main__":
    main()
