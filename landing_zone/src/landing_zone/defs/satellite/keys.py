"""Asset keys and partitions of the satellite domain.

Partitions are ``month`` (dynamic, ``YYYY-MM``) crossed with ``region`` (static), stored under
``.../month=YYYY-MM/region=name/``. Why this shape rather than a monthly time window, or a year x month
pair:

- the months follow the catalogue, not the calendar: ``satellite_catalog_sensor`` registers exactly the
  months the STAC catalogue holds and deletes a month whose scenes were all withdrawn. A time-window
  definition has a partition for every month since its start whether or not an image exists, and none
  can be deleted;
- a year x month pair of dimensions cannot delete one month of one year: deleting ``08`` from a dynamic
  month dimension would remove August of every year, and a static month dimension cannot lose any;
- the region is its own static dimension, as on every other region-partitioned asset (``meteo/daily_grids``
  is month x region too), so a new entry in the regions file adds its partitions everywhere at once.
"""

from dagster import AssetKey, DynamicPartitionsDefinition, MultiPartitionsDefinition

from shared.assets.landing_zone import REGIONS

SATELLITE_SCENES = AssetKey(["satellite", "scenes"])
"""A month's scenes of a region copied unchanged into the raw layer, with a manifest table."""

SATELLITE_NDVI = AssetKey(["satellite", "ndvi"])
"""A month's cloud-masked NDVI composite of a region: one COG (NDVI, valid observations)."""

SATELLITE_MONTHS = DynamicPartitionsDefinition(name="satellite_months")
"""``YYYY-MM`` months the catalogue holds, registered (and deleted) by ``satellite_catalog_sensor``."""

SATELLITE_PARTITIONS = MultiPartitionsDefinition({"month": SATELLITE_MONTHS, "region": REGIONS})
"""One month of one region per partition: stored under ``month=YYYY-MM/region=name/``."""
