"""Freezing the heap after a swap must not keep a replaced model and snapshot alive.

:func:`serving.api.heap.settle` freezes everything alive after a swap, the replaced pair
included (the refresh still holds it then). Frozen objects are only ever freed by reference
counting, so the replaced pair must hold no reference cycle: this test catches one, should a
change add it (a bound-method callback kept on the index, a frame pointing back at its store).
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from features.config import Settings
from serving.api import heap
from serving.api.state import ServingState
from tests.serving.api.test_reload import later
from tests.serving.conftest import SMALL_TRAINING, copy_world
from training.scored_snapshot import snapshot_path, write_scored_snapshot
from training.snapshot_schema import finish_snapshot


@pytest.fixture
def collector() -> Iterator[None]:
    """Give the test process its collector back afterwards (thresholds, nothing frozen)."""
    thresholds = gc.get_threshold()
    yield
    gc.enable()
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_a_replaced_pair_is_freed_by_reference_counting_alone(world, tmp_path, collector) -> None:
    models_dir = copy_world(world, tmp_path)
    settings = Settings(models_dir=models_dir, training=SMALL_TRAINING,
                        serving={"reload_seconds": 0, "precompute_explanations": 0})
    state = ServingState(settings, on_swap=heap.settle)
    assert state.refresh()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold()[2] == heap.MIDDLE_PASSES_PER_FULL_PASS
    first = state.current
    gone = [weakref.ref(first.index), weakref.ref(first.index.frame),
            weakref.ref(first.explanations)]
    del first

    newer = finish_snapshot(world.snapshot, later(world, 7), "1")
    write_scored_snapshot(newer, snapshot_path(models_dir, later(world, 7)))
    gc.disable()  # from here on only reference counting frees anything
    assert state.refresh()  # settles again: the replaced pair is frozen along with the rest
    assert state.current.as_of == later(world, 7).date()
    assert all(ref() is None for ref in gone), "a replaced pair holds a reference cycle"
