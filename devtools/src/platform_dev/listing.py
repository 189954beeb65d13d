"""Print what is stored under the configured storage root, one line per asset, with a URI to open.

``python -m platform_dev.listing`` (the last step of ``make demo``).
"""

from __future__ import annotations

from collections import defaultdict

from shared.resources.platform import storage_resource
from shared.storage import ObjectInfo
from shared.storage.layout import COG


def asset_of(key: str) -> str:
    """The asset path of an object key: the folders before the first partition folder or file name."""
    folders = key.split("/")[:-1]
    asset = []
    for folder in folders:
        if "=" in folder:
            break
        asset.append(folder)
    return "/".join(asset)


def main() -> None:
    storage = storage_resource().get_storage()
    by_asset: dict[str, list[ObjectInfo]] = defaultdict(list)
    for info in storage.list():
        by_asset[asset_of(info.key)].append(info)
    print(f"\nOutputs under {storage.url}:")
    for asset, objects in sorted(by_asset.items()):
        size = sum(info.size for info in objects) / 1e6
        example = objects[-1]
        hint = storage.gdal_path(example.key) if example.key.endswith(f".{COG}") else example.uri
        print(f"  {asset:<42} {len(objects):>4} objects {size:9.2f} MB  e.g. {hint}")


if __name__ == "__main__":
    main()
