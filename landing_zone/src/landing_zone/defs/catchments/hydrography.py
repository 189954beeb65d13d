"""Assets of the river network: as published (``hydrography/rivers``), and moved onto the DEM's drainage
(``hydrography/rivers_aligned``) by the offset estimated in :mod:`alignment`."""

import dagster as dg

from landing_zone.defs.catchments.alignment import OffsetEstimate
from landing_zone.resources.sources import SourcesResource
from landing_zone.sources.urls import redact_url
from shared.assets.landing_zone import REGIONS, catchment_key, hydrography_key
from shared.k8s.op_tags import K8sOpTags
from shared.rasters.handles import StoredRaster
from shared.resources.platform import VECTOR_IO_MANAGER
from shared.vectors.geoframe import GeoFrame


class AlignmentConfig(dg.Config):
    search_m: float = 15.0
    """Largest offset searched in x and y (widened to two analysis cells where cells are larger)."""


@dg.asset(
    key=hydrography_key("rivers"),
    partitions_def=REGIONS,
    io_manager_key=VECTOR_IO_MANAGER,
    op_tags=K8sOpTags.small(),
    kinds={"geoparquet"},
    description="The river network as the provider publishes it: one line per river, source to mouth, "
    "with the river it flows into.",
)
def rivers(context: dg.AssetExecutionContext, sources: SourcesResource) -> GeoFrame:
    from landing_zone.defs.catchments.river_source import read_rivers

    url = sources.rivers_url.replace("{region}", context.partition_key)
    network = read_rivers(url, sources.allowed_prefixes("rivers", url))
    context.add_output_metadata(
        {"source_url": redact_url(url), "rivers": network.layer.frame.height} | network.metadata()
    )
    return network.layer


@dg.asset(
    key=hydrography_key("rivers_aligned"),
    ins={
        "rivers": dg.AssetIn(key=hydrography_key("rivers")),
        "analysis_dem": dg.AssetIn(key=catchment_key("analysis_dem")),
    },
    partitions_def=REGIONS,
    io_manager_key=VECTOR_IO_MANAGER,
    op_tags=K8sOpTags.medium(),
    kinds={"geoparquet"},
    description="Rivers shifted onto the DEM's own drainage: the offset that best puts them on the DEM's "
    "valley lines, with its prominence and jackknife uncertainty in the metadata.",
)
def rivers_aligned(
    context: dg.AssetExecutionContext, config: AlignmentConfig, rivers: GeoFrame, analysis_dem: StoredRaster
) -> GeoFrame:
    from landing_zone.defs.catchments.river_alignment import align_rivers

    check_rivers_in_region(rivers, analysis_dem, context)
    aligned, estimate = align_rivers(rivers, analysis_dem, config.search_m)
    context.add_output_metadata(offset_metadata(estimate))
    return aligned


def check_rivers_in_region(
    rivers: GeoFrame, analysis_dem: StoredRaster, context: dg.AssetExecutionContext
) -> None:
    """Stop before aligning rivers that lie outside the region (a wrong CRS): the DEM's bounds are the
    region's, and an alignment far from any valley would report a meaningless offset, not fail."""
    from landing_zone.defs.catchments.river_source import check_rivers_reach

    with analysis_dem.open() as dem:
        region_crs, region_bounds = dem.crs.to_wkt(), tuple(dem.bounds)
    where = (
        f"{hydrography_key('rivers').to_user_string()} (partition {context.partition_key}) against the "
        f"analysis DEM {analysis_dem.uri}"
    )
    check_rivers_reach(rivers, where, region_crs, region_bounds)


def offset_metadata(estimate: OffsetEstimate) -> dict[str, float | int | None]:
    """The estimate as the UI shows it: offset, correction applied, and how much to trust it."""
    return {
        "offset_dx_m": round(estimate.dx, 3),
        "offset_dy_m": round(estimate.dy, 3),
        "correction_dx_m": round(-estimate.dx, 3),
        "correction_dy_m": round(-estimate.dy, 3),
        "prominence": round(estimate.prominence, 2),
        "uncertainty_m": None if estimate.uncertainty_m is None else round(estimate.uncertainty_m, 3),
        "peak_width_m": round(estimate.peak_width_m, 2),
        "search_m": estimate.search_m,
        "candidates": estimate.candidates,
    }
