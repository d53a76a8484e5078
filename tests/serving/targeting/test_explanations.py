"""The explanation store: computed once per row, warmed best-first, identical to TreeSHAP."""

from __future__ import annotations

import numpy as np

from serving.api.state import ServingState
from serving.targeting.explanations import ExplanationStore, warm_order
from tests.serving.conftest import world_settings
from training.bundle import RETURN_BASIS


def test_warm_up_explains_each_clinics_best_patients_first(world) -> None:
    state = ServingState(world_settings(world.models_dir))
    state.refresh()
    served = state.current
    served.explanations.join(timeout=120)
    assert served.explanations.phrased == 300  # the configured budget
    order = np.concatenate(warm_order(served.index, per_clinic=50))
    for entry in served.index.clinics.values():
        best = entry.orders["probability"].rows[entry.orders["probability"].channel_bits != 0][:50]
        assert set(best) <= set(order)
    state.stop()


def test_stored_reasons_are_computed_once_and_prefixes_agree(world) -> None:
    state = ServingState(
        world_settings(world.models_dir).model_copy(
            update={
                "serving": world_settings(world.models_dir).serving.model_copy(
                    update={"precompute_explanations": 0}
                )
            }
        )
    )
    state.refresh()
    store: ExplanationStore = state.current.explanations
    rows = np.arange(40)
    calls = []
    compute = store.compute
    store.compute = lambda r, threads=0: calls.append(len(r)) or compute(r, threads)
    ten = store.reasons(rows, 10)
    three = store.reasons(rows, 3)
    assert calls == [40]  # the second request reused everything
    assert all(t == full[:3] for t, full in zip(three, ten, strict=True))
    matrix = store.bundle.matrix(store.frame.iloc[rows])
    direct = store.bundle.contributions(matrix, store.basis)
    assert np.allclose(store.contributions(rows), direct, atol=1e-5)
    if store.basis == RETURN_BASIS:
        returned = store.bundle.explain(store.frame.iloc[rows])[store.features].to_numpy()
        assert np.allclose(store.contributions(rows), returned, atol=1e-5)
    state.stop()


def test_a_requests_new_rows_are_explained_off_the_event_loop(world) -> None:
    import asyncio
    import threading

    from serving.api.service import explain_pending

    settings = world_settings(world.models_dir)
    state = ServingState(
        settings.model_copy(
            update={"serving": settings.serving.model_copy(update={"precompute_explanations": 0})}
        )
    )
    state.refresh()
    served = state.current
    store: ExplanationStore = served.explanations
    rows = np.arange(60, 90)
    seen: list[int] = []
    compute = store.compute
    store.compute = lambda r, threads=0: seen.append(threading.get_ident()) or compute(r, threads)

    async def request() -> int:
        await explain_pending(served, rows)
        return threading.get_ident()

    loop_thread = asyncio.run(request())
    assert seen and loop_thread not in seen  # TreeSHAP ran on a worker thread
    assert len(store.pending(rows)) == 0
    assert len(store.pending(np.arange(50, 100))) == 20
    seen.clear()
    asyncio.run(request())
    assert seen == []  # explained rows never leave the loop again
    state.stop()
