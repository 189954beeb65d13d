"""Where the landing zone's sources live: one URL per provider, and what each provider may point to.

By default every source points into the sample region that ``make demo`` builds
(``PLATFORM_SAMPLE_REGION``, default ``./.sources/sample-region``); production overrides each URL with the
real service (``SOURCE_ELEVATION_INDEX_URL`` etc.). URLs may be ``file://``, ``http(s)://`` or ``s3://``.

URLs a provider publishes (tile URLs in the index, listed files, STAC hrefs) and redirects are only
followed inside that provider's allowed prefixes: its own root (the folder of the configured URL) plus
any extra prefixes configured per source, from ``SOURCE_<NAME>_ALLOWED_PREFIXES`` (comma-separated,
e.g. ``SOURCE_ELEVATION_INDEX_ALLOWED_PREFIXES=https://tiles.example.org/dem/``). A prefix also
allow-lists its scheme: no extra prefix, no ``file://`` or ``s3://`` from an ``https`` index.
"""

import os
from pathlib import Path

from dagster import ConfigurableResource
from pydantic import Field

from landing_zone.sources.confinement import provider_root

SAMPLE_REGION_VARIABLE = "PLATFORM_SAMPLE_REGION"
DEFAULT_SAMPLE_REGION = ".sources/sample-region"
SOURCE_NAMES = ("elevation_index", "rivers", "meteo", "hydro", "forecasts", "satellite_catalog")
"""Each source's name: its URL field is ``{name}_url``, its variables ``SOURCE_{NAME}_URL`` and
``SOURCE_{NAME}_ALLOWED_PREFIXES``."""


class SourcesResource(ConfigurableResource):
    """Source URLs; ``{product}`` in the elevation index URL stands for ``dtm`` or ``dsm``."""

    elevation_index_url: str = Field(description="WFS GetFeature (GeoJSON) of the tile index, per {product}.")
    rivers_url: str = Field(description="River network vectors (GeoJSON); {region} stands for the region.")
    meteo_url: str = Field(description="Provider directory of meteorological station files.")
    hydro_url: str = Field(description="Provider directory of hydrological gauge files.")
    forecasts_url: str = Field(description="Directory of GRIB2 forecast runs.")
    satellite_catalog_url: str = Field(description="Static STAC catalogue of satellite scenes.")
    extra_allowed_prefixes: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Per source name (e.g. 'elevation_index'), URL prefixes its published URLs may point "
        "to besides the folder of its configured URL.",
    )

    def region_url(self, name: str, region: str) -> str:
        """The source's URL for one region: the regions file's override for it (:mod:`shared.regions`),
        else the configured URL with ``{region}`` filled in."""
        from shared.regions import region as region_config

        self._known(name)
        override = region_config(region).sources.get(name)
        return override if override else str(getattr(self, f"{name}_url")).replace("{region}", region)

    def allowed_prefixes(self, name: str, url: str | None = None) -> tuple[str, ...]:
        """The prefixes the source ``name`` may point to: its provider root, then the extra ones.

        ``url`` is the source's URL as used, when the configured one is a template (``{product}``);
        its folder is the provider root.
        """
        self._known(name)
        configured = url if url is not None else str(getattr(self, f"{name}_url"))
        return (provider_root(configured), *self.extra_allowed_prefixes.get(name, []))

    @staticmethod
    def _known(name: str) -> None:
        if name not in SOURCE_NAMES:
            raise ValueError(f"unknown source {name!r}; the sources are {list(SOURCE_NAMES)}")

    @classmethod
    def from_environment(cls) -> "SourcesResource":
        """Each ``SOURCE_*_URL`` variable if set, else the sample region (the current versions); extra
        allowed prefixes from ``SOURCE_*_ALLOWED_PREFIXES``."""
        root = Path(os.environ.get(SAMPLE_REGION_VARIABLE, DEFAULT_SAMPLE_REGION)).resolve().as_uri()
        defaults = {
            "elevation_index_url": f"{root}/elevation/{{product}}/index_v2.geojson",
            "rivers_url": f"{root}/hydrography/rivers.geojson",
            "meteo_url": f"{root}/stations/meteo/v2/",
            "hydro_url": f"{root}/stations/hydro/v2/",
            "forecasts_url": f"{root}/forecasts/",
            "satellite_catalog_url": f"{root}/satellite/v2/catalog.json",
        }
        urls = {name: os.environ.get(f"SOURCE_{name.upper()}", url) for name, url in defaults.items()}
        return cls(**urls, extra_allowed_prefixes=_prefixes_from_environment())


def _prefixes_from_environment() -> dict[str, list[str]]:
    """``SOURCE_<NAME>_ALLOWED_PREFIXES`` of every source that sets it, split on commas."""
    prefixes = {}
    for name in SOURCE_NAMES:
        value = os.environ.get(f"SOURCE_{name.upper()}_ALLOWED_PREFIXES", "")
        listed = [prefix.strip() for prefix in value.split(",") if prefix.strip()]
        if listed:
            prefixes[name] = listed
    return prefixes
