"""Which region a forecast run is for: weather-model runs are partitioned by time only, so the region is
run configuration. The landing zone's forecast assets read the same regions file the same way (the
discharge model does not import them)."""

from __future__ import annotations

from shared.regions import platform_regions, regions_file


def configured_region(name: str | None) -> str:
    """The named region, or the regions file's only one; an unknown name or an ambiguous file is an
    error that names the file and the regions it has."""
    regions = platform_regions()
    if name is not None:
        if name not in regions:
            raise ValueError(
                f"region {name!r} is not in the regions file {regions_file()} ({sorted(regions)})"
            )
        return name
    if len(regions) != 1:
        raise ValueError(
            f"the regions file {regions_file()} has {len(regions)} regions ({sorted(regions)}): set the "
            "`region` config of the forecast"
        )
    return next(iter(regions))
