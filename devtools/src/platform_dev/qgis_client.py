"""QGIS's side of the analyst client: open stored layers, describe them, render a map, write a project.

Runs under Debian's system Python (``/usr/bin/python3`` with ``python3-qgis``), not the project's
environment, so it imports nothing but the standard library and QGIS. :mod:`platform_dev.qgis_project`
starts it with the storage's GDAL variables and the analyst's AWS credentials in the environment and
``QT_QPA_PLATFORM=offscreen``; the request comes as JSON on stdin and the report goes as JSON to stdout.

Request: ``{"layers": [{"name", "kind": "raster"|"vector", "source"}], "png": path|null,
"size": pixels, "project": path|null}``. Raster layers keep QGIS's default (grey, min/max) style;
vector layers are drawn as outlines only, in :data:`OUTLINE_RGB`, so a rendered map tells them apart.
"""

from __future__ import annotations

import json
import sys
from typing import Any

OUTLINE_RGB = (255, 0, 0)
"""Colour of vector outlines on the rendered map (a grey DTM never has it)."""


def _start_qgis() -> Any:
    from qgis.core import QgsApplication

    QgsApplication.setPrefixPath("/usr", True)
    application = QgsApplication([], False)
    application.initQgis()
    return application


def _open_layer(spec: dict[str, Any]) -> Any:
    """Open one layer; GDAL/OGR read it straight from ``/vsis3/`` with ranged requests."""
    from qgis.core import QgsFillSymbol, QgsRasterLayer, QgsSingleSymbolRenderer, QgsVectorLayer

    if spec["kind"] == "raster":
        return QgsRasterLayer(spec["source"], spec["name"], "gdal")
    layer = QgsVectorLayer(spec["source"], spec["name"], "ogr")
    if layer.isValid():
        red, green, blue = OUTLINE_RGB
        symbol = QgsFillSymbol.createSimple(
            {"style": "no", "outline_color": f"{red},{green},{blue},255", "outline_width": "0.6"}
        )
        layer.setRenderer(QgsSingleSymbolRenderer(symbol))
    return layer


def _describe(layer: Any) -> dict[str, Any]:
    """What an analyst checks first: validity, CRS, extent, band statistics or feature count."""
    from qgis.core import QgsRasterBandStats, QgsRasterLayer

    if not layer.isValid():
        return {"name": layer.name(), "valid": False, "error": layer.error().summary()}
    extent = layer.extent()
    report: dict[str, Any] = {
        "name": layer.name(),
        "valid": True,
        "source": layer.source(),
        "crs": layer.crs().authid(),
        "extent": [extent.xMinimum(), extent.yMinimum(), extent.xMaximum(), extent.yMaximum()],
    }
    if isinstance(layer, QgsRasterLayer):
        stats = layer.dataProvider().bandStatistics(1, QgsRasterBandStats.All, extent, 0)
        report["band_count"] = layer.bandCount()
        report["statistics"] = {
            "min": stats.minimumValue,
            "max": stats.maximumValue,
            "mean": stats.mean,
            "std": stats.stdDev,
        }
    else:
        report["feature_count"] = layer.featureCount()
    return report


def _render(layers: list[Any], path: str, size: int) -> dict[str, Any]:
    """Render the layers (first on top) onto a transparent square image, as an analyst's map would."""
    from qgis.core import QgsMapRendererSequentialJob, QgsMapSettings, QgsRectangle
    from qgis.PyQt.QtCore import QSize
    from qgis.PyQt.QtGui import QColor

    extent = QgsRectangle(layers[0].extent())
    for layer in layers[1:]:
        extent.combineExtentWith(layer.extent())
    settings = QgsMapSettings()
    settings.setLayers(layers)
    settings.setDestinationCrs(layers[-1].crs())
    settings.setExtent(extent)
    settings.setOutputSize(QSize(size, size))
    settings.setBackgroundColor(QColor(255, 255, 255, 0))
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    if not job.renderedImage().save(path, "PNG"):
        raise RuntimeError(f"QGIS could not write the map to {path}")
    visible = settings.visibleExtent()
    return {
        "path": path,
        "size": [size, size],
        "extent": [visible.xMinimum(), visible.yMinimum(), visible.xMaximum(), visible.yMaximum()],
        "errors": [f"{error.layerID}: {error.message}" for error in job.errors()],
    }


def _write_project(layers: list[Any], path: str) -> dict[str, Any]:
    """Save a project holding the layers, then reopen it in a fresh project to prove it loads."""
    from qgis.core import QgsProject

    project = QgsProject()
    project.setCrs(layers[-1].crs())
    project.addMapLayers(layers)
    if not project.write(path):
        raise RuntimeError(f"QGIS could not write the project {path}: {project.error()}")
    reopened = QgsProject()
    if not reopened.read(path):
        raise RuntimeError(f"QGIS could not reopen the project {path}: {reopened.error()}")
    return {
        "path": path,
        "layers": [
            {"name": layer.name(), "valid": layer.isValid(), "source": layer.source()}
            for layer in reopened.mapLayers().values()
        ],
    }


def main() -> None:
    request = json.load(sys.stdin)
    application = _start_qgis()
    layers = [_open_layer(spec) for spec in request["layers"]]
    report: dict[str, Any] = {"layers": [_describe(layer) for layer in layers]}
    if all(layer.isValid() for layer in layers):
        if request.get("png"):
            report["render"] = _render(layers, request["png"], int(request.get("size", 800)))
        if request.get("project"):
            report["project"] = _write_project(layers, request["project"])
    json.dump(report, sys.stdout)
    application.exitQgis()


if __name__ == "__main__":
    main()
