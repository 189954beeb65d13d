"""A WFS 2.0 GetFeature client for GeoJSON output, and the elevation tile index read through it.

National elevation services publish their tile index as a WFS layer: one feature per tile, with the
tile's download URL, format, CRS and publication date. The client pages through the layer with
``count``/``startIndex`` (services cap a response at a few thousand features), optionally filtered by
a bounding box; :func:`parse_tile_index` turns the features into typed entries and refuses a malformed
index outright, naming the feature and field, because a silently skipped tile is a hole in the DEM.
"""

import json
import math
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, Strict, ValidationError, field_validator

from landing_zone.sources.confinement import provider_root, url_guard
from landing_zone.sources.http import FetchError, read_document
from landing_zone.sources.safe_paths import check_name
from landing_zone.sources.urls import redact_url
from shared.workers import RetryPolicy

BBox = tuple[float, float, float, float]

# Parameters this client sets; the same keys in the base URL (any case) are replaced, others kept.
_WFS_KEYS = {
    "service",
    "version",
    "request",
    "typename",
    "typenames",
    "outputformat",
    "count",
    "startindex",
    "bbox",
}


class WfsError(FetchError):
    """The service answered, but not with a GeoJSON FeatureCollection it can be paged through."""


class MalformedIndexError(ValueError):
    """The tile index is not what it should be; names the feature (position and id) and the field."""

    def __init__(self, message: str, *, index: int | None, feature_id: str | None, field: str) -> None:
        super().__init__(message)
        self.index = index
        self.feature_id = feature_id
        self.field = field


class WfsClient:
    """Pages through one feature type of a WFS 2.0 service, as GeoJSON.

    ``base_url`` may carry parameters of its own (``?map=elevation``); they are kept. Each page is one
    request with retries (:func:`~landing_zone.sources.http.read_document`), whose redirects must stay
    under ``allowed_prefixes`` (default: the service's folder).
    """

    def __init__(
        self,
        base_url: str,
        type_name: str,
        page_size: int = 1000,
        timeout_s: float = 30,
        retry: RetryPolicy | None = None,
        allowed_prefixes: Sequence[str] | None = None,
    ) -> None:
        if page_size < 1:
            raise ValueError(f"page_size must be at least 1, got {page_size}")
        allowed = (provider_root(base_url),) if allowed_prefixes is None else tuple(allowed_prefixes)
        self.guard = url_guard(allowed, f"WFS {type_name!r}")
        self.base_url = base_url
        self.type_name = type_name
        self.page_size = page_size
        self.timeout_s = timeout_s
        self.retry = retry

    def get_features(self, bbox: BBox | None = None, bbox_crs: str = "EPSG:2180") -> list[dict[str, Any]]:
        """Every feature (in ``bbox``, given in ``bbox_crs``, when set), in the order the service pages them.

        Paging stops at the first page shorter than ``page_size`` or once ``numberMatched`` features
        have arrived, whichever comes first, so an exact multiple of the page size costs no empty page
        when the service reports ``numberMatched``.
        """
        if bbox is not None:
            _check_bbox(bbox)
        features: list[dict[str, Any]] = []
        previous: list[dict[str, Any]] | None = None
        while True:
            url = self.page_url(len(features), bbox, bbox_crs)
            page, number_matched = self._read_page(url)
            if page and page == previous:
                raise WfsError(f"{redact_url(url)}: the service ignores startIndex (a page came twice)")
            features.extend(page)
            if len(page) < self.page_size or (number_matched is not None and len(features) >= number_matched):
                return features
            previous = page

    def page_url(self, start_index: int, bbox: BBox | None = None, bbox_crs: str = "EPSG:2180") -> str:
        """The GetFeature URL of the page that starts at feature ``start_index``."""
        parts = urlsplit(self.base_url)
        params = [
            (key, value)
            for key, value in parse_qsl(parts.query, keep_blank_values=True)
            if key.lower() not in _WFS_KEYS
        ]
        params += [
            ("service", "WFS"),
            ("version", "2.0.0"),
            ("request", "GetFeature"),
            ("typeNames", self.type_name),
            ("outputFormat", "application/json"),
            ("count", str(self.page_size)),
            ("startIndex", str(start_index)),
        ]
        if bbox is not None:
            params.append(("bbox", ",".join([*(repr(float(value)) for value in bbox), bbox_crs])))
        return urlunsplit(parts._replace(query=urlencode(params, safe=",:/")))

    def _read_page(self, url: str) -> tuple[list[dict[str, Any]], int | None]:
        """One page's features and the service's ``numberMatched``, when it reports a count."""
        body = read_document(url, timeout_s=self.timeout_s, retry=self.retry, guard=self.guard)
        try:
            document = json.loads(body)
        except ValueError:
            start = body[:60].decode("utf-8", errors="replace")
            raise WfsError(f"{redact_url(url)}: the response is not JSON (it starts {start!r})") from None
        if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
            raise WfsError(f"{redact_url(url)}: the response is not a GeoJSON FeatureCollection")
        features = document.get("features")
        if not isinstance(features, list):
            raise WfsError(f"{redact_url(url)}: the FeatureCollection has no 'features' list")
        matched = document.get("numberMatched")
        # numberMatched may be "unknown" (WFS 2.0 allows it); only a count can stop the paging.
        return features, matched if isinstance(matched, int) and not isinstance(matched, bool) else None


def _check_bbox(bbox: BBox) -> None:
    if len(bbox) != 4 or not all(math.isfinite(value) for value in bbox):
        raise ValueError(f"bbox must be four finite numbers (minx, miny, maxx, maxy), got {bbox!r}")
    if bbox[0] >= bbox[2] or bbox[1] >= bbox[3]:
        raise ValueError(f"bbox must have minx < maxx and miny < maxy, got {bbox!r}")


Coordinate = Annotated[float, Strict(), Field(allow_inf_nan=False)]
NonEmpty = Annotated[str, Strict(), Field(min_length=1)]


class TileIndexEntry(BaseModel):
    """One tile of the elevation tile index, as the provider describes it.

    ``url`` is as published: absolute, or relative to the index's URL. ``crs`` is an ``AUTHORITY:CODE``
    string, or empty where the index does not say (some providers leave it out; the conversion then
    relies on the file itself). ``bbox`` is (west, south, east, north) in that CRS.
    """

    # defer_build: the validator is built on the first parse, in a step, not at every load of the code
    # location (which imports this module but reads no index); it is the costliest model there.
    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)

    tile_id: NonEmpty
    map_sheet: NonEmpty
    region: NonEmpty
    format: Literal["asc", "xyz", "tif"]
    url: NonEmpty
    crs: Annotated[str, Strict(), Field(pattern=r"^([A-Za-z][A-Za-z0-9_]*:\S+)?$")]
    bbox: tuple[Coordinate, Coordinate, Coordinate, Coordinate]
    updated: AwareDatetime

    @field_validator("tile_id")
    @classmethod
    def _tile_id_is_a_safe_name(cls, tile_id: str) -> str:
        """Tile ids become file names and object keys, so they follow the untrusted-name rules."""
        return check_name(tile_id)

    @field_validator("bbox", mode="before")
    @classmethod
    def _bbox_has_four_values(cls, bbox: Any) -> Any:
        if not isinstance(bbox, list | tuple) or len(bbox) != 4:
            raise ValueError(f"expected 4 numbers (west, south, east, north), got {bbox!r}")
        return bbox

    @field_validator("bbox")
    @classmethod
    def _bbox_is_ordered(cls, bbox: BBox) -> BBox:
        west, south, east, north = bbox
        if west >= east or south >= north:
            raise ValueError(f"west < east and south < north are required, got {bbox}")
        return bbox


def parse_tile_index(features: Mapping[str, Any] | Sequence[Any]) -> list[TileIndexEntry]:
    """The entries of a tile index: a GeoJSON FeatureCollection, or the feature list of :class:`WfsClient`.

    Raises :class:`MalformedIndexError` for the first problem: not a FeatureCollection, a feature that
    is not a Feature or lacks properties, a missing or invalid field, or a tile id listed twice.
    """
    entries: list[TileIndexEntry] = []
    first_seen: dict[str, int] = {}
    for index, feature in enumerate(_feature_list(features)):
        entry = _parse_feature(index, feature)
        if entry.tile_id in first_seen:
            raise MalformedIndexError(
                f"tile index feature {index} (id {entry.tile_id!r}): field 'tile_id': "
                f"the tile is already listed as feature {first_seen[entry.tile_id]}",
                index=index,
                feature_id=entry.tile_id,
                field="tile_id",
            )
        first_seen[entry.tile_id] = index
        entries.append(entry)
    return entries


def _feature_list(features: Mapping[str, Any] | Sequence[Any]) -> Sequence[Any]:
    if isinstance(features, Mapping):
        if features.get("type") != "FeatureCollection":
            raise MalformedIndexError(
                f"tile index: field 'type': expected 'FeatureCollection', got {features.get('type')!r}",
                index=None,
                feature_id=None,
                field="type",
            )
        features = features.get("features")  # type: ignore[assignment]
    if isinstance(features, str | bytes) or not isinstance(features, Sequence):
        raise MalformedIndexError(
            f"tile index: field 'features': expected a list of features, got {type(features).__name__}",
            index=None,
            feature_id=None,
            field="features",
        )
    return features


def _parse_feature(index: int, feature: Any) -> TileIndexEntry:
    if not isinstance(feature, Mapping):
        raise _feature_error(index, None, "type", f"expected a GeoJSON Feature, got {type(feature).__name__}")
    properties = feature.get("properties")
    feature_id = _feature_id(feature, properties)
    if feature.get("type") != "Feature":
        raise _feature_error(index, feature_id, "type", f"expected 'Feature', got {feature.get('type')!r}")
    if not isinstance(properties, Mapping):
        raise _feature_error(index, feature_id, "properties", "missing or not an object")
    try:
        return TileIndexEntry.model_validate(dict(properties))
    except ValidationError as error:
        first = error.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "properties"
        problem = first["msg"].removeprefix("Value error, ")
        if first["type"] not in ("missing", "value_error"):
            problem += f" (got {first['input']!r})"
        raise _feature_error(index, feature_id, field, problem) from None


def _feature_id(feature: Mapping[str, Any], properties: Any) -> str | None:
    """The feature's id, or its tile_id property, for messages; None when it has neither."""
    if feature.get("id") is not None:
        return str(feature["id"])
    if isinstance(properties, Mapping) and properties.get("tile_id") is not None:
        return str(properties["tile_id"])
    return None


def _feature_error(index: int, feature_id: str | None, field: str, problem: str) -> MalformedIndexError:
    return MalformedIndexError(
        f"tile index feature {index} (id {feature_id!r}): field {field!r}: {problem}",
        index=index,
        feature_id=feature_id,
        field=field,
    )
