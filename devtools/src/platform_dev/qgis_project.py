"""A QGIS project per region whose layers read the platform's storage, and the client that checks them.

QGIS lives outside the project's environment: Debian's ``python3-qgis`` under the system Python. This
module names the layers an analyst opens (the region's consolidated DTM COG and its progressive
catchments FlatGeobuf, by the storage layout contract), and runs :mod:`platform_dev.qgis_client` under
``/usr/bin/python3`` headless (``QT_QPA_PLATFORM=offscreen``) to open them straight from S3, describe
them, render a map and write the project. Credentials are never written into the project: QGIS reads
them, and the endpoint, from the environment of whoever opens it (README, "Opening the outputs in QGIS").

    python -m platform_dev.qgis_project --region pilica --out pilica.qgs

with ``PLATFORM_STORAGE_URL=s3://...`` and the analyst's ``AWS_*`` variables set.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

SYSTEM_PYTHON = "/usr/bin/python3"
"""The interpreter Debian's ``python3-qgis`` belongs to."""
CLIENT_SCRIPT = Path(__file__).with_name("qgis_client.py")
INSTALL_HINT = "install Debian's QGIS: sudo apt-get install --no-install-recommends python3-qgis"
DEFAULT_CONDITIONING = "burn_fill"
"""The conditioning strategy whose catchments the project shows (the features' default)."""


class QgisClientError(RuntimeError):
    """QGIS is missing, or the client failed; the message carries its error output."""


@dataclass(frozen=True)
class LayerSpec:
    """One layer of the project: its name in QGIS, GDAL's kind of it, and the ``/vsis3/`` path."""

    name: str
    kind: str
    source: str


def region_layers(storage_url: str, region: str, conditioning: str = DEFAULT_CONDITIONING) -> list[LayerSpec]:
    """The region's layers, catchments first (drawn on top), at their keys in the storage layout."""
    from dagster import MultiPartitionKey

    from shared.assets.landing_zone import (
        CATCHMENT_PARTITIONS,
        DTM_CONSOLIDATED,
        PROGRESSIVE_CATCHMENTS,
        REGIONS,
    )
    from shared.storage import open_storage
    from shared.storage.layout import COG, FLATGEOBUF, AssetLocation

    if not storage_url.startswith("s3://"):
        raise ValueError(f"storage URL {storage_url!r}: a QGIS project for analysts needs s3:// storage")
    storage = open_storage(storage_url)
    catchments_key = MultiPartitionKey({"conditioning": conditioning, "region": region})
    catchments = AssetLocation.for_partition(PROGRESSIVE_CATCHMENTS, CATCHMENT_PARTITIONS, catchments_key)
    dtm = AssetLocation.for_partition(DTM_CONSOLIDATED, REGIONS, region)
    return [
        LayerSpec(
            f"{region} progressive catchments ({conditioning})",
            "vector",
            storage.gdal_path(catchments.key(FLATGEOBUF)),
        ),
        LayerSpec(f"{region} DTM", "raster", storage.gdal_path(dtm.key(COG))),
    ]


def client_environment(storage_url: str, base: dict[str, str] | None = None) -> dict[str, str]:
    """``base`` (the caller's environment) plus GDAL's S3 options for the storage, headless Qt."""
    from shared.storage import open_storage

    environment = dict(os.environ if base is None else base)
    return environment | open_storage(storage_url).gdal_options() | {"QT_QPA_PLATFORM": "offscreen"}


def run_client(
    request: dict[str, Any], environment: dict[str, str], python: str = SYSTEM_PYTHON
) -> dict[str, Any]:
    """Run the QGIS client on ``request`` and return its report."""
    if not Path(python).is_file():
        raise QgisClientError(f"{python} not found; {INSTALL_HINT}")
    result = subprocess.run(
        [python, str(CLIENT_SCRIPT)],
        input=json.dumps(request),
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        hint = f" ({INSTALL_HINT})" if "No module named 'qgis'" in result.stderr else ""
        raise QgisClientError(
            f"QGIS client failed with exit code {result.returncode}{hint}:\n{result.stderr[-3000:]}"
        )
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def write_project(
    storage_url: str,
    region: str,
    out: Path,
    conditioning: str = DEFAULT_CONDITIONING,
    png: Path | None = None,
    environment: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Write the region's project to ``out`` (and a map to ``png``); fails naming any layer QGIS refused."""
    layers = region_layers(storage_url, region, conditioning)
    request = {
        "layers": [asdict(layer) for layer in layers],
        "project": str(out),
        "png": str(png) if png else None,
        "size": 800,
    }
    report = run_client(request, client_environment(storage_url, environment))
    refused = [
        f"{layer['name']}: {layer.get('error', '')}" for layer in report["layers"] if not layer["valid"]
    ]
    if refused:
        raise QgisClientError(f"QGIS could not open {', '.join(refused)}")
    return report


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Write a region's QGIS project reading the platform's S3 storage."
    )
    parser.add_argument("--region", required=True)
    parser.add_argument("--out", type=Path, required=True, help="the .qgs file to write")
    parser.add_argument("--conditioning", default=DEFAULT_CONDITIONING, choices=["burn_fill", "fill"])
    parser.add_argument("--storage-url", default=os.environ.get("PLATFORM_STORAGE_URL", ""))
    parser.add_argument("--png", type=Path, help="also render the layers to this PNG")
    arguments = parser.parse_args()
    report = write_project(
        arguments.storage_url, arguments.region, arguments.out, arguments.conditioning, arguments.png
    )
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
