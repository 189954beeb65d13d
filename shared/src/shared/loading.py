"""Load a code location's definitions with the cyclic garbage collector paused, then freeze them.

Loading a location creates some 60,000 objects (modules, pydantic models, asset and op definitions) that
live as long as the process. CPython's collector runs by allocation count, so during a load it runs about
a hundred times, once of them over every object in the process, Dagster's included (the full collection
that ``import dagster`` leaves due): about a quarter of the location's import cost (issue 12's budget,
``benchmarks/imports.py``), spent finding next to nothing to free.

:func:`frozen_load` pauses the collector for the load and then freezes every object alive
(:func:`gc.freeze`), the pattern CPython documents for processes that load once and then serve: later
collections skip those objects instead of traversing them again and again. Reference counting still
frees frozen objects. What is never freed is cyclic garbage left when the load ends: for a location a
few hundred kilobytes (mostly Dagster's component-loading contexts), not worth the tens of milliseconds
a collection over the load's objects takes to find it. Objects the process created before the load are
frozen too; that is its start-up state (for a test process, whatever its earlier tests kept alive).
"""

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def frozen_load() -> Iterator[None]:
    """Run the block with the collector paused and, if it succeeds, freeze what is alive after it.

    The collector's previous state (enabled or not) is restored either way.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
        gc.freeze()
    finally:
        if was_enabled:
            gc.enable()
