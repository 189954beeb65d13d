"""Asset keys produced by the ``landing_zone`` code location that other locations read (contract).

Only what crosses code locations is here; every internal stage's key belongs to its domain
(``landing_zone.defs.{elevation,stations,catchments}.keys``), which gives these same keys.
"""

from dagster import AssetKey, MultiPartitionsDefinition, StaticPartitionsDefinition

from shared.regions import platform_regions

REGIONS = StaticPartitionsDefinition(list(platform_regions()))
"""The regions the platform covers (:mod:`shared.regions`: one YAML file); region-partitioned assets of
both locations share this."""

DTM_CONSOLIDATED = AssetKey(["elevation", "dtm", "consolidated"])
"""The consolidated terrain model per region (COG, EPSG:2180): what catchments and the model read."""

METEO_POLISHED = AssetKey(["meteo", "polished_timeseries"])
"""Daily meteorological series per station, flagged value by value (the model's forcing; Parquet)."""

HYDRO_POLISHED = AssetKey(["hydro", "polished_timeseries"])
"""Daily water level and discharge per gauge, flagged value by value (the model's target; Parquet)."""

RIVERS_ALIGNED = AssetKey(["hydrography", "rivers_aligned"])
"""River lines per region, shifted by the offset estimated against the DEM's drainage (GeoParquet)."""

CONDITIONING = StaticPartitionsDefinition(["burn_fill", "fill"])
"""DEM conditioning strategies, materialised side by side: ``burn_fill`` (stream burning with the aligned
rivers, then priority-flood filling) is the platform's choice; ``fill`` (filling only) is the reference."""

CATCHMENT_PARTITIONS = MultiPartitionsDefinition({"conditioning": CONDITIONING, "region": REGIONS})
"""Everything from the conditioned DEM on exists once per conditioning strategy and region."""

REACHES = AssetKey(["catchments", "reaches"])
"""~100 m river reaches with topology, Strahler order and upstream area (GeoParquet + FlatGeobuf),
per conditioning strategy and region."""

REACH_CATCHMENTS = AssetKey(["catchments", "reach_catchments"])
"""One non-overlapping catchment polygon per reach (GeoParquet + FlatGeobuf): the model's spatial unit."""

PROGRESSIVE_CATCHMENTS = AssetKey(["catchments", "progressive_catchments"])
"""Each reach's whole upstream catchment, composed from reach catchments (GeoParquet + FlatGeobuf)."""
