"""Pictures (:mod:`shared.pictures`) as materialisation metadata, never at the cost of the asset.

The PNG goes inline as a markdown image with a ``data:image/png;base64`` URI, which the Dagster UI's
markdown renderer allows (dagster-io/dagster#13443); the pictures' size bound keeps each event small.
A picture is a courtesy: whatever fails while drawing it is logged as a warning and the entry is left
out, so the asset still materialises.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from typing import Any

import dagster as dg

PREVIEW = "preview"
"""Metadata key of an asset's picture."""


def markdown_image(png: bytes, alt: str) -> dg.MarkdownMetadataValue:
    """The PNG as an inline markdown image."""
    return dg.MetadataValue.md(f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})")


def picture_metadata(
    draw: Callable[[], bytes], alt: str, log: logging.Logger | None = None, key: str = PREVIEW
) -> dict[str, Any]:
    """``{key: image}`` from ``draw()``, or nothing (with a warning) when drawing fails."""
    try:
        png = draw()
    except Exception as error:  # whatever it is: a picture never fails the asset
        (log or dg.get_dagster_logger()).warning(f"no {key} picture ({alt}): {type(error).__name__}: {error}")
        return {}
    return {key: markdown_image(png, alt)}
