"""Keep the service's long-lived heap out of the cyclic garbage collector's full passes.

Why this exists: a full (generation 2) collection in the service process takes 0.2-0.3 s on
the 2-core machine: the imported libraries alone (bentoml, mlflow, lightgbm, pandas, pydantic)
leave ~220,000 tracked objects (~170 ms a pass), a loaded 500,000-patient snapshot adds
~130 ms. A collection holds the GIL from start to end, and under load one runs every couple
of large requests (5 full passes in 10 requests for 5,000 patients each: every page builds
tens of thousands of short-lived records that outlive a young pass). Every request in
flight waits behind it, and so do ``/livez`` and ``/readyz`` on the event loop: that, not
the ranking work itself, was their 300-420 ms p99 while 20 clients asked for 2,000-5,000
patients (docs/serving.md, "Concurrency and health under load").

:func:`settle` runs one collection and then :func:`gc.freeze`: everything alive at that
moment (modules, the served model and snapshot) moves to a permanent generation the
collector never scans again, so a full pass only walks what requests allocated since. It
is called after each swap of the served pair (:class:`serving.api.state.ServingState`'s
``on_swap``), i.e. once at start and once per reload.

Freezing alone left full passes of 45-85 ms every half second under load: a page of 5,000
patients keeps ~20,000 tracked objects alive while it is built (13 ms to walk on an idle
core, several times that when the two cores are contended), and with the frozen heap out
of CPython's "full pass only when the old generation grew by 25%" rule, a full pass came
every couple of requests. :func:`settle` therefore also spaces full passes out
(:data:`MIDDLE_PASSES_PER_FULL_PASS` instead of CPython's 10: about one every 200 large
requests rather than every 2). Young and middle passes stay as they are (under a
millisecond and a few milliseconds); only cyclic garbage waits longer to be reclaimed, and
requests make little of it (most objects are freed by reference counting).

Frozen objects are still freed by reference counting: a replaced pair is released as soon
as no request holds it, because a served pair contains no reference cycle (checked by
``tests/serving/api/test_heap.py``). Only cyclic garbage frozen by mistake would stay, and
:func:`settle` collects before freezing so none is.
"""

from __future__ import annotations

import gc
import logging
import time

logger = logging.getLogger(__name__)

# Collections of the middle generation between two full passes (CPython's default: 10).
MIDDLE_PASSES_PER_FULL_PASS = 1_000


def settle() -> int:
    """Collect once, freeze every live object, space full passes out; objects now frozen."""
    started = time.perf_counter()
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, MIDDLE_PASSES_PER_FULL_PASS)
    frozen = gc.get_freeze_count()
    logger.info(
        "froze %d long-lived objects out of the garbage collector's passes (%.0f ms)",
        frozen, (time.perf_counter() - started) * 1000,
    )
    return frozen
