"""Split rivers into ~100 m reaches with topology: downstream reach, Strahler order, a DAG with one outlet.

Reaches are the unit of partial catchments: each gets its own catchment, and progressive catchments are
composed along this topology. A tributary's last reach drains into the reach of its receiving river that
contains the confluence; the receiving river's last reach is the basin outlet.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

TARGET_LENGTH_M = 100.0


@dataclass(frozen=True)
class RiverLine:
    """One river, vertices from source to mouth, and the river it flows into (None for the main river)."""

    river_id: str
    points: np.ndarray
    receiving: str | None


@dataclass(frozen=True)
class Reach:
    reach_id: str
    river_id: str
    points: np.ndarray
    downstream: str | None
    order: int
    length_m: float


class TopologyError(ValueError):
    """The reach network is not a DAG with one outlet per basin."""


def split_rivers(rivers: list[RiverLine], target_m: float = TARGET_LENGTH_M) -> list[Reach]:
    """Reaches of about ``target_m`` (equal lengths per river) with their downstream links and order."""
    pieces = {river.river_id: _split(river.points, target_m) for river in rivers}
    downstream: dict[str, str | None] = {}
    for river in rivers:
        ids = [_reach_id(river.river_id, i) for i in range(len(pieces[river.river_id]))]
        downstream.update(itertools.pairwise(ids))
        downstream[ids[-1]] = _receiving_reach(river, pieces) if river.receiving else None
    orders = strahler_orders(downstream)
    return [
        Reach(reach_id, river.river_id, piece, downstream[reach_id], orders[reach_id], _length(piece))
        for river in rivers
        for i, piece in enumerate(pieces[river.river_id])
        for reach_id in [_reach_id(river.river_id, i)]
    ]


def strahler_orders(downstream: dict[str, str | None]) -> dict[str, int]:
    """Strahler order of every reach; raises :class:`TopologyError` on a cycle or a dangling link."""
    upstream: dict[str, list[str]] = {reach: [] for reach in downstream}
    for reach, target in downstream.items():
        if target is not None:
            if target not in upstream:
                raise TopologyError(f"reach {reach} drains into unknown reach {target}")
            upstream[target].append(reach)
    orders: dict[str, int] = {}
    pending = [reach for reach, sources in upstream.items() if not sources]
    remaining = {reach: len(sources) for reach, sources in upstream.items()}
    while pending:
        reach = pending.pop()
        incoming = sorted((orders[source] for source in upstream[reach]), reverse=True)
        top = incoming[0] if incoming else 1
        orders[reach] = top + 1 if len(incoming) > 1 and incoming[1] == top else top
        target = downstream[reach]
        if target is not None:
            remaining[target] -= 1
            if remaining[target] == 0:
                pending.append(target)
    if len(orders) != len(downstream):
        cyclic = sorted(set(downstream) - set(orders))
        raise TopologyError(f"{len(cyclic)} reaches are on or below a cycle, e.g. {cyclic[:5]}")
    return orders


def outlets(downstream: dict[str, str | None]) -> list[str]:
    return sorted(reach for reach, target in downstream.items() if target is None)


def _reach_id(river_id: str, index: int) -> str:
    return f"{river_id}-{index:04d}"


def _length(points: np.ndarray) -> float:
    return float(np.hypot(*np.diff(points, axis=0).T).sum())


def _split(points: np.ndarray, target_m: float) -> list[np.ndarray]:
    """Equal-length pieces close to ``target_m``; pieces share their end vertices."""
    steps = np.hypot(*np.diff(points, axis=0).T)
    arc = np.concatenate([[0.0], np.cumsum(steps)])
    count = max(1, round(arc[-1] / target_m))
    cuts = np.linspace(0.0, arc[-1], count + 1)
    pieces = []
    for start, end in itertools.pairwise(cuts):
        inner = (arc > start) & (arc < end)
        xs = np.concatenate(
            [[np.interp(start, arc, points[:, 0])], points[inner, 0], [np.interp(end, arc, points[:, 0])]]
        )
        ys = np.concatenate(
            [[np.interp(start, arc, points[:, 1])], points[inner, 1], [np.interp(end, arc, points[:, 1])]]
        )
        pieces.append(np.column_stack([xs, ys]))
    return pieces


def _receiving_reach(river: RiverLine, pieces: dict[str, list[np.ndarray]]) -> str:
    """The reach of the receiving river nearest to this river's mouth."""
    receiving = pieces.get(river.receiving or "")
    if receiving is None:
        raise TopologyError(f"river {river.river_id} flows into unknown river {river.receiving}")
    mouth = river.points[-1]
    distances = [np.hypot(*(piece - mouth).T).min() for piece in receiving]
    return _reach_id(river.receiving or "", int(np.argmin(distances)))
