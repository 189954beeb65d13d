"""Loading a location with the collector paused: nothing is collected during the load, everything alive
after it is frozen, the collector comes back as it was, and a failed load freezes nothing."""

import gc
import weakref
from collections.abc import Iterator

import pytest

from shared.loading import frozen_load


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    """Thaw afterwards: a frozen test process would keep its garbage cycles for the rest of the session."""
    was_enabled = gc.isenabled()
    yield
    gc.unfreeze()
    if was_enabled:
        gc.enable()
    gc.collect()


class Node:
    def __init__(self) -> None:
        self.cycle = self


def test_the_collector_is_paused_during_the_load_and_back_after():
    assert gc.isenabled()
    with frozen_load():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_disabled_collector_stays_disabled():
    gc.disable()
    with frozen_load():
        pass
    assert not gc.isenabled()


def test_nothing_is_collected_during_the_load_and_what_it_leaves_is_frozen():
    gc.unfreeze()
    collections = [generation["collections"] for generation in gc.get_stats()]
    with frozen_load():
        kept = Node()
        garbage = weakref.ref(Node())  # a cycle: only the collector could free it
        for _ in range(10_000):  # enough allocations to set off every generation's collection
            Node()
    assert [generation["collections"] for generation in gc.get_stats()] == collections
    assert gc.get_freeze_count() > 0
    assert all(obj is not kept for obj in gc.get_objects()), "frozen: later collections skip it"
    assert garbage() is not None, "the load's own cyclic garbage is frozen with it, not collected"


def test_a_failed_load_freezes_nothing_and_restores_the_collector():
    gc.unfreeze()
    with pytest.raises(RuntimeError), frozen_load():
        raise RuntimeError("broken definitions")
    assert gc.get_freeze_count() == 0
    assert gc.isenabled()
