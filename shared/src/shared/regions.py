"""The regions the platform covers, read from one YAML file: a region is configuration, not code.

Both code locations read the same file (``PLATFORM_REGIONS_FILE``, else the ``regions.yaml`` packaged
beside this module), so their region partitions agree. Each entry names a partition key and what the
pipelines need to know about the place: its CRS, optional bounds, the analysis resolution delineation runs
at, and per-source URL overrides.
"""

from __future__ import annotations

import os
from functools import cache
from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

REGIONS_FILE_VARIABLE = "PLATFORM_REGIONS_FILE"


class RegionsFileError(ValueError):
    """The regions file is missing, is not YAML, or an entry is invalid; the message names the file."""


class Region(BaseModel, frozen=True):
    """One region: a partition key and what the pipelines need to know about the place."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="Partition key.")
    description: str = ""
    crs: str = Field(default="EPSG:2180", description="Projected, metric CRS of everything stored for it.")
    bounds: tuple[float, float, float, float] | None = Field(
        default=None, description="(west, south, east, north) in ``crs``; None: what the data covers."
    )
    analysis_resolution_m: float = Field(
        default=4.0, gt=0, description="Cell size in metres that delineation runs at."
    )
    sources: dict[str, str] = Field(
        default_factory=dict, description="Per-source URL overrides (source name -> URL)."
    )

    @field_validator("bounds")
    @classmethod
    def _ordered(cls, bounds: tuple[float, float, float, float] | None) -> tuple[float, ...] | None:
        if bounds is not None and not (bounds[0] < bounds[2] and bounds[1] < bounds[3]):
            raise ValueError(f"bounds must be (west, south, east, north), west<east, south<north: {bounds}")
        return bounds


class RegionsFile(BaseModel, frozen=True):
    regions: list[Region] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> RegionsFile:
        names = [region.name for region in self.regions]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"region names must be unique; repeated: {duplicates}")
        return self


def regions_file() -> Path:
    """``PLATFORM_REGIONS_FILE`` when set, else the packaged default."""
    configured = os.environ.get(REGIONS_FILE_VARIABLE)
    if configured:
        return Path(configured)
    return Path(str(resources.files("shared").joinpath("regions.yaml")))


def load_regions(path: Path) -> dict[str, Region]:
    """The regions of ``path`` by name, validated; :class:`RegionsFileError` names the file and the entry."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise RegionsFileError(f"regions file {path}: {error}") from None
    try:
        parsed = RegionsFile.model_validate(document)
    except ValidationError as error:
        raise RegionsFileError(f"regions file {path}: {error}") from None
    return {region.name: region for region in parsed.regions}


@cache
def platform_regions() -> dict[str, Region]:
    """The regions this process runs with (read once: partitions are fixed while a location is loaded)."""
    return load_regions(regions_file())


def region(name: str) -> Region:
    """One region by partition key; a clear error for a key the regions file does not have."""
    regions = platform_regions()
    if name not in regions:
        raise KeyError(f"region {name!r} is not in the regions file {regions_file()} (has {sorted(regions)})")
    return regions[name]
