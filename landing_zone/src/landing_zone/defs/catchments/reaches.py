"""Split rivers into reaches with topology: downstream reach, Strahler order, one outlet per basin.

Reaches are the unit of partial catchments: each gets its own catchment, and progressive catchments are
composed along this topology. A tributary's last reach drains into the reach of its receiving river that
contains the confluence; the receiving river's last reach is the basin outlet.

A reach must span a few analysis cells, or its pour cell (chosen a cell and a half before its end) has no
room: :func:`reach_length_m` derives the length from the cell size when none is configured and refuses one
that the grid cannot resolve, naming the smallest length that works.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

TARGET_LENGTH_M = 100.0
"""Default reach length where the analysis cells are small enough (see :data:`MIN_REACH_CELLS`)."""

MIN_REACH_CELLS = 3.0
"""Shortest reach in analysis cells: a pour cell one and a half cells before the end, and as much above."""


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
    order: int | None
    length_m: float
    joins_at_m: float | None = None
    """For a tributary's last reach: how far along its receiving river its mouth lies, which orders the
    confluences within one receiving reach (Strahler orders depend on it)."""


Ending = Literal["outlet", "reach", "mouth"]
"""How a reach ends: the basin outlet, the next reach of its river, or a confluence with another river."""


def ending(reach: Reach, river_of: Mapping[str, str]) -> Ending:
    """How ``reach`` ends, given each reach's river."""
    if reach.downstream is None:
        return "outlet"
    return "reach" if river_of.get(reach.downstream) == reach.river_id else "mouth"


class TopologyError(ValueError):
    """The rivers' receiving links cannot be turned into reach links."""


class ReachLengthError(ValueError):
    """A configured reach length the analysis grid cannot resolve."""


def reach_length_m(cell_m: float, target_m: float | None) -> float:
    """The reach length to split at on cells of ``cell_m``: ``target_m`` when it spans at least
    :data:`MIN_REACH_CELLS` cells (refused otherwise, saying what to set), or without one the larger of
    :data:`TARGET_LENGTH_M` and that minimum."""
    shortest = MIN_REACH_CELLS * cell_m
    if target_m is None:
        return max(TARGET_LENGTH_M, shortest)
    if target_m < shortest:
        raise ReachLengthError(
            f"target_length_m {target_m:g} is below {MIN_REACH_CELLS:g} analysis cells of {cell_m:g} m: "
            f"set at least {shortest:g} m, or leave it unset to derive it from the cell size"
        )
    return target_m


def split_rivers(rivers: list[RiverLine], target_m: float = TARGET_LENGTH_M) -> list[Reach]:
    """Reaches of about ``target_m`` (equal lengths per river) with their downstream links and order.

    A broken network (a cycle through the rivers' receiving links) still gives reaches, those on or below
    the cycle without an order, so the asset checks on ``catchments/reaches`` report it (and block what
    follows) rather than the split failing.
    """
    pieces = {river.river_id: _split(river.points, target_m) for river in rivers}
    by_id = {river.river_id: river for river in rivers}
    downstream: dict[str, str | None] = {}
    river_of: dict[str, str] = {}
    joins: dict[str, float] = {}
    for river in rivers:
        ids = [_reach_id(river.river_id, i) for i in range(len(pieces[river.river_id]))]
        river_of.update(dict.fromkeys(ids, river.river_id))
        downstream.update(itertools.pairwise(ids))
        downstream[ids[-1]] = None
        if river.receiving:
            downstream[ids[-1]], joins[ids[-1]] = _receiving_reach(river, by_id, pieces)
    orders = strahler_orders(downstream, river_of, joins)
    return [
        Reach(
            reach_id,
            river.river_id,
            piece,
            downstream[reach_id],
            orders.get(reach_id),
            _length(piece),
            joins.get(reach_id),
        )
        for river in rivers
        for i, piece in enumerate(pieces[river.river_id])
        for reach_id in [_reach_id(river.river_id, i)]
    ]


def topological_order(downstream: Mapping[str, str | None]) -> list[str]:
    """Reach ids headwaters first, each after every reach draining into it; reaches on or below a
    cycle are left out, and a link to an unknown reach counts as leaving the network."""
    waiting = dict.fromkeys(downstream, 0)
    for target in downstream.values():
        if target in waiting:
            waiting[target] += 1
    ready = [reach for reach, count in waiting.items() if count == 0]
    order = []
    while ready:
        reach = ready.pop()
        order.append(reach)
        target = downstream[reach]
        if target in waiting:
            waiting[target] -= 1
            if waiting[target] == 0:
                ready.append(target)
    return order


def strahler_orders(
    downstream: Mapping[str, str | None],
    river_of: Mapping[str, str] | None = None,
    joins: Mapping[str, float] | None = None,
) -> dict[str, int]:
    """Strahler order of every reach that has one (see :func:`topological_order` for the others).

    Without ``river_of`` every reach is a stream of its own and its inflows meet at its top. With it
    (each reach's river) the orders follow the river network as the D8 network's cell orders do: a
    river's first reach carries the river's own source stream (order 1), and the tributaries joining a
    reach meet its river one after the other, in the order of ``joins`` (where each mouth lies along the
    receiving river), each raising the order when it equals the river's order so far.
    """
    upstream: dict[str, list[str]] = {reach: [] for reach in downstream}
    for reach, target in downstream.items():
        if target in upstream:
            upstream[target].append(reach)
    orders: dict[str, int] = {}
    for reach in topological_order(downstream):
        if river_of is None:
            orders[reach] = _meeting_at_once([orders[source] for source in upstream[reach]])
            continue
        own = [orders[u] for u in upstream[reach] if river_of[u] == river_of[reach]]
        tributaries = sorted(
            (u for u in upstream[reach] if river_of[u] != river_of[reach]),
            key=lambda u: (joins or {}).get(u, 0.0),
        )
        order = _meeting_at_once(own)
        for tributary in tributaries:
            order = order + 1 if orders[tributary] == order else max(order, orders[tributary])
        orders[reach] = order
    return orders


def _meeting_at_once(incoming: list[int]) -> int:
    """Strahler order below streams of orders ``incoming`` meeting in one point (1 for none)."""
    incoming = sorted(incoming, reverse=True)
    top = incoming[0] if incoming else 1
    return top + 1 if len(incoming) > 1 and incoming[1] == top else top


def outlets(downstream: dict[str, str | None]) -> list[str]:
    """Reaches that drain out of the network (one per basin)."""
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


def _receiving_reach(
    river: RiverLine, rivers: dict[str, RiverLine], pieces: dict[str, list[np.ndarray]]
) -> tuple[str, float]:
    """The reach of the receiving river that contains the confluence, and how far along the receiving
    river that lies: the mouth projected onto the receiving line, then the equal-length piece that
    distance falls in."""
    receiving = rivers.get(river.receiving or "")
    if receiving is None:
        raise TopologyError(f"river {river.river_id} flows into unknown river {river.receiving}")
    steps = np.hypot(*np.diff(receiving.points, axis=0).T)
    arc = np.concatenate([[0.0], np.cumsum(steps)])
    along = _project(receiving.points, arc, river.points[-1])
    count = len(pieces[receiving.river_id])
    return _reach_id(receiving.river_id, min(int(along / arc[-1] * count), count - 1)), along


def _project(points: np.ndarray, arc: np.ndarray, target: np.ndarray) -> float:
    """Distance along the polyline ``points`` (cumulative lengths ``arc``) of the point nearest ``target``."""
    starts, segments = points[:-1], np.diff(points, axis=0)
    lengths_sq = np.maximum((segments**2).sum(axis=1), 1e-12)
    fraction = np.clip(((target - starts) * segments).sum(axis=1) / lengths_sq, 0.0, 1.0)
    nearest = starts + fraction[:, None] * segments
    best = int(np.argmin(np.hypot(*(nearest - target).T)))
    return float(arc[best] + fraction[best] * np.sqrt(lengths_sq[best]))
