"""Where the landing zone's sources live: one URL per provider, from the environment.

By default every source points into the sample region that ``make demo`` builds
(``PLATFORM_SAMPLE_REGION``, default ``./.sources/sample-region``); production overrides each URL with the
real service (``SOURCE_ELEVATION_INDEX_URL`` etc.). URLs may be ``file://``, ``http(s)://`` or ``s3://``.
"""

import os
from pathlib import Path

from dagster import ConfigurableResource
from pydantic import Field

SAMPLE_REGION_VARIABLE = "PLATFORM_SAMPLE_REGION"
DEFAULT_SAMPLE_REGION = ".sources/sample-region"


class SourcesResource(ConfigurableResource):
    """Source URLs; ``{product}`` in the elevation index URL stands for ``dtm`` or ``dsm``."""

    elevation_index_url: str = Field(description="WFS GetFeature (GeoJSON) of the tile index, per {product}.")
    rivers_url: str = Field(description="River network vectors (GeoJSON); {region} stands for the region.")
    meteo_url: str = Field(description="Provider directory of meteorological station files.")
    hydro_url: str = Field(description="Provider directory of hydrological gauge files.")
    forecasts_url: str = Field(description="Directory of GRIB2 forecast runs.")
    satellite_catalog_url: str = Field(description="Static STAC catalogue of satellite scenes.")

    @classmethod
    def from_environment(cls) -> "SourcesResource":
        """Each ``SOURCE_*_URL`` variable if set, else the sample region (the current versions)."""
        root = Path(os.environ.get(SAMPLE_REGION_VARIABLE, DEFAULT_SAMPLE_REGION)).resolve().as_uri()
        defaults = {
            "elevation_index_url": f"{root}/elevation/{{product}}/index_v2.geojson",
            "rivers_url": f"{root}/hydrography/rivers.geojson",
            "meteo_url": f"{root}/stations/meteo/v2/",
            "hydro_url": f"{root}/stations/hydro/v2/",
            "forecasts_url": f"{root}/forecasts/",
            "satellite_catalog_url": f"{root}/satellite/v2/catalog.json",
        }
        return cls(**{name: os.environ.get(f"SOURCE_{name.upper()}", url) for name, url in defaults.items()})
