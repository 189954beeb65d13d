"""The elevation source: DTM and DSM tiles, the WFS tile index in two versions, the true rasters.

Tiles are 1 km (500 x 500 cells); 2 x 2 tiles form a map sheet. Version 1 of the index lacks one sheet
(not yet surveyed), carries four broken tiles and two tiles with a survey bias. Version 2 supersedes
the broken and biased tiles with good files, adds the missing sheet, and re-issues one sheet under new
tile ids (the old ids are retired), as a provider's re-division of sheets would.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.transform import from_origin

from platform_dev.sample_region.spec import CRS, NODATA, RegionSpec
from platform_dev.sample_region.terrain import surface_block
from platform_dev.sample_region.tiles import BAD_VARIANTS, GOOD_VARIANTS, TileData, TileVariant, write_tile
from shared.rasters.cog import copy_to_cog, tiled_gtiff_profile

PRODUCTS = ("dtm", "dsm")
V1_PUBLISHED = dt.datetime(2024, 3, 1, 8, 0, tzinfo=dt.UTC)
V2_PUBLISHED = dt.datetime(2025, 6, 2, 8, 0, tzinfo=dt.UTC)
SURVEY_BIAS_M = 0.25


@dataclass(frozen=True)
class TileSlot:
    """One 1 km square of the region: its grid position and sheet."""

    row: int
    col: int
    sheet: str

    @property
    def tile_id(self) -> str:
        return f"{self.sheet}-{1 + (self.row % 2) * 2 + self.col % 2}"


@dataclass
class ElevationPlan:
    """Which tile gets which variant in each version; the truth manifest records it."""

    slots: list[TileSlot]
    variants: dict[tuple[int, int], TileVariant]
    missing_in_v1: str
    renamed_in_v2: str
    biased_in_v1: list[str]
    bad_in_v1: dict[str, str] = field(default_factory=dict)


def sheet_name(spec: RegionSpec, row: int, col: int) -> str:
    """Map-sheet name in the style of Poland's 1:10 000 division."""
    return f"M-34-{56 + row // spec.sheet_tiles:02d}-{chr(65 + col // spec.sheet_tiles)}"


def plan_tiles(spec: RegionSpec, product: str) -> ElevationPlan:
    """Assign variants, the missing and the renamed sheet, and the bad and biased tiles."""
    rng = np.random.default_rng([spec.seed, 10, PRODUCTS.index(product)])
    slots = [TileSlot(r, c, sheet_name(spec, r, c)) for r in range(spec.tiles) for c in range(spec.tiles)]
    order = rng.permutation(len(slots))
    variants = {(slots[i].row, slots[i].col): _variant(spec, k) for k, i in enumerate(order)}
    sheets = sorted({slot.sheet for slot in slots})
    missing, renamed = sheets[-1], sheets[len(sheets) // 2]
    candidates = [s for s in (slots[i] for i in order) if s.sheet not in (missing, renamed)]
    plan = ElevationPlan(slots, variants, missing, renamed, [s.tile_id for s in candidates[4:6]])
    if product == "dtm":
        for slot, variant in zip(candidates[:4], BAD_VARIANTS, strict=True):
            variants[(slot.row, slot.col)] = variant
            plan.bad_in_v1[slot.tile_id] = variant.defect or ""
    return plan


def _variant(spec: RegionSpec, position: int) -> TileVariant:
    """Every quirk in turn; the bench region publishes most tiles as GeoTIFF to stay a few GB on disk."""
    if spec.size == "bench" and position % 8:
        return TileVariant("tif")
    step = position // 8 if spec.size == "bench" else position
    return GOOD_VARIANTS[step % len(GOOD_VARIANTS)]


def write_elevation(spec: RegionSpec, out: Path) -> dict[str, Any]:
    """Write both products' tiles and indexes and the true rasters; returns their truth entries."""
    truth: dict[str, Any] = {}
    plans = {product: plan_tiles(spec, product) for product in PRODUCTS}
    true_paths = {product: out / "truth" / f"{product}.tif" for product in PRODUCTS}
    with _TrueRasters(spec, true_paths) as true_rasters:
        for slot in plans["dtm"].slots:
            block = surface_block(
                spec, slot.row * spec.tile_cells, slot.col * spec.tile_cells, spec.tile_cells, spec.tile_cells
            )
            true_rasters.write(slot, {"dtm": block.dtm, "dsm": block.dsm})
            for product, values in (("dtm", block.dtm), ("dsm", block.dsm)):
                _write_slot(spec, out / "elevation" / product, plans[product], slot, values)
    for product, plan in plans.items():
        root = out / "elevation" / product
        for version in (1, 2):
            features = _index_features(spec, plan, version)
            _write_index(root / f"index_v{version}.geojson", features)
        truth[product] = {
            "true_raster": f"truth/{product}.tif",
            "missing_sheet_in_v1": plan.missing_in_v1,
            "renamed_sheet_in_v2": plan.renamed_in_v2,
            "biased_tiles_in_v1": {tile: SURVEY_BIAS_M for tile in plan.biased_in_v1},
            "bad_tiles_in_v1": plan.bad_in_v1,
        }
    return truth


def _write_slot(
    spec: RegionSpec, root: Path, plan: ElevationPlan, slot: TileSlot, values: np.ndarray
) -> None:
    """The tile's v1 file (if published in v1) and its v2 file (if v2 changes it)."""
    rng = np.random.default_rng([spec.seed, 11, slot.row, slot.col])
    west = spec.west + slot.col * spec.tile_size_m
    north = spec.north - slot.row * spec.tile_size_m
    variant = plan.variants[(slot.row, slot.col)]
    tile_id = slot.tile_id
    if slot.sheet != plan.missing_in_v1:
        v1_values = values + SURVEY_BIAS_M if tile_id in plan.biased_in_v1 else values
        write_tile(
            root / "tiles" / "v1" / tile_id, TileData(v1_values, west, north, spec.cell_size), variant, rng
        )
    if _changed_in_v2(plan, slot):
        tile = TileData(values, west, north, spec.cell_size)
        write_tile(root / "tiles" / "v2" / _v2_tile_id(plan, slot), tile, _v2_variant(plan, slot), rng)


def _changed_in_v2(plan: ElevationPlan, slot: TileSlot) -> bool:
    return (
        slot.sheet in (plan.missing_in_v1, plan.renamed_in_v2)
        or slot.tile_id in plan.bad_in_v1
        or slot.tile_id in plan.biased_in_v1
    )


def _v2_variant(plan: ElevationPlan, slot: TileSlot) -> TileVariant:
    """A broken tile is re-published in v2 as a good file; other tiles keep their format."""
    variant = plan.variants[(slot.row, slot.col)]
    return GOOD_VARIANTS[(slot.row + slot.col) % len(GOOD_VARIANTS)] if variant.defect else variant


def _v2_sheet(plan: ElevationPlan, slot: TileSlot) -> str:
    """The re-issued sheet gets a new name in v2 (and its tiles new ids)."""
    return f"{plan.renamed_in_v2}N" if slot.sheet == plan.renamed_in_v2 else slot.sheet


def _v2_tile_id(plan: ElevationPlan, slot: TileSlot) -> str:
    return slot.tile_id.replace(slot.sheet, _v2_sheet(plan, slot))


def _index_features(spec: RegionSpec, plan: ElevationPlan, version: int) -> list[dict[str, Any]]:
    features = []
    for slot in plan.slots:
        if version == 1 and slot.sheet == plan.missing_in_v1:
            continue
        changed = version == 2 and _changed_in_v2(plan, slot)
        variant = _v2_variant(plan, slot) if changed else plan.variants[(slot.row, slot.col)]
        tile_id = _v2_tile_id(plan, slot) if version == 2 else slot.tile_id
        sheet = _v2_sheet(plan, slot) if version == 2 else slot.sheet
        west = spec.west + slot.col * spec.tile_size_m
        north = spec.north - slot.row * spec.tile_size_m
        bbox = [west, north - spec.tile_size_m, west + spec.tile_size_m, north]
        no_crs = variant.defect == "GeoTIFF without CRS and no CRS in the index"
        features.append(
            {
                "type": "Feature",
                "id": tile_id,
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [
                        [
                            [bbox[0], bbox[1]],
                            [bbox[2], bbox[1]],
                            [bbox[2], bbox[3]],
                            [bbox[0], bbox[3]],
                            [bbox[0], bbox[1]],
                        ]
                    ],
                },
                "properties": {
                    "tile_id": tile_id,
                    "map_sheet": sheet,
                    "region": spec.name,
                    "format": variant.format,
                    "url": f"tiles/v{2 if changed else 1}/{tile_id}.{variant.format}",
                    "crs": "" if no_crs else CRS,
                    "bbox": bbox,
                    "updated": (V2_PUBLISHED if changed else V1_PUBLISHED).isoformat(),
                },
            }
        )
    return features


def _write_index(path: Path, features: list[dict[str, Any]]) -> None:
    """A WFS 2.0 GetFeature response (GeoJSON) with every feature, as the service would page it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    collection = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "EPSG:2180"}},
        "numberMatched": len(features),
        "numberReturned": len(features),
        "features": features,
    }
    path.write_text(json.dumps(collection, indent=1), encoding="utf-8")


class _TrueRasters:
    """The true DTM and DSM written tile by tile into tiled GTiffs, then copied to COGs."""

    def __init__(self, spec: RegionSpec, paths: dict[str, Path]) -> None:
        self.spec, self.paths = spec, paths
        self.datasets: dict[str, Any] = {}

    def __enter__(self) -> _TrueRasters:
        transform = from_origin(self.spec.west, self.spec.north, self.spec.cell_size, self.spec.cell_size)
        for product, path in self.paths.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            profile = tiled_gtiff_profile(self.spec.cells, self.spec.cells, "float32", CRS, transform, NODATA)
            self.datasets[product] = rasterio.open(path.with_suffix(".staging.tif"), "w", **profile)
        return self

    def write(self, slot: TileSlot, values: dict[str, np.ndarray]) -> None:
        n = self.spec.tile_cells
        window = ((slot.row * n, (slot.row + 1) * n), (slot.col * n, (slot.col + 1) * n))
        for product, array in values.items():
            self.datasets[product].write(array, 1, window=window)

    def __exit__(self, *exc: object) -> None:
        for product, dataset in self.datasets.items():
            dataset.close()
            staging = self.paths[product].with_suffix(".staging.tif")
            if exc[0] is None:
                copy_to_cog(staging, self.paths[product])
            staging.unlink(missing_ok=True)
