"""Reasons of snapshot rows: computed once, kept for the life of a (model, snapshot) pair.

Two costs dominate an explained request: TreeSHAP (milliseconds per row, 150x a plain
prediction) and phrasing (a few dozen vectorised string operations per request, whatever
the row count). Neither depends on the request, only on the row, the model and the
snapshot, so this store keeps both:

* contributions in one float32 matrix aligned with the snapshot rows (allocated zeroed:
  untouched pages cost no memory, so a million-row snapshot pays only for rows explained);
* each row's ``MAX_REASONS`` strongest raising and lowering reasons, phrased; a request for
  ``k`` reasons picks the first ``k`` in the direction of each patient's group
  (``serving.targeting.reasons.arrange``; the order does not depend on ``k``).

One store explains one score (``basis``): the return model's, or the uplift's
(``training.bundle.ModelBundle.contributions``); the service keeps one per basis it serves.

A request explains and phrases only its rows not seen before, in one batch. A background
warmer does the same ahead of any request for the rows most likely to be listed (each
clinic's best patients by probability and by expected value): one thread, small batches,
LightGBM on one core. A reload builds a new store: the key "model version + patient" of this
cache is implicit in its lifetime.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

import numpy as np
import pandas as pd

from serving.targeting.index import UPLIFT_ORDERINGS
from serving.targeting.reasons import arrange, split_reasons
from training.bundle import RETURN_BASIS, UPLIFT_BASIS

logger = logging.getLogger(__name__)

MAX_REASONS = 10  # the API's upper bound of max_reasons


def explanation_basis(bundle: object, index: object, ordering: str) -> str:
    """What the reasons of a list ranked by ``ordering`` explain.

    An uplift ordering is explained by the uplift (why a message adds a booking) when the
    bundle's learner can be explained per input and the snapshot carries the estimate;
    otherwise - and for the probability and expected-value orderings - by the return model
    (why the patient is likely to come back). The answers say which (``reasons_explain``).
    """
    uplift = ordering in UPLIFT_ORDERINGS and getattr(index, "has_uplift", False) \
        and getattr(bundle, "explains_uplift", False)
    return UPLIFT_BASIS if uplift else RETURN_BASIS


class ExplanationStore:
    """Per-row SHAP contributions (log-odds) of one model on one snapshot.

    Args:
        bundle: the model bundle (``features``, ``matrix(frame)``, ``contributions``).
        frame: the snapshot rows (positional), holding every model feature.
        basis: what the reasons explain (``training.bundle.RETURN_BASIS`` or
            ``UPLIFT_BASIS``).
        min_effect: the smallest contribution (log-odds) shown as a reason.
    """

    def __init__(self, bundle: object, frame: pd.DataFrame, basis: str = RETURN_BASIS,
                 min_effect: float = 0.0) -> None:
        self.bundle = bundle
        self.frame = frame
        self.basis = basis
        self.min_effect = min_effect
        self.features: list[str] = list(bundle.features)
        self._values = np.zeros((len(frame), len(self.features)), dtype=np.float32)
        self._done = np.zeros(len(frame), dtype=bool)
        self._reasons = np.full(len(frame), None, dtype=object)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def compute(self, rows: np.ndarray, threads: int = 0) -> np.ndarray:
        """Contributions of ``rows`` straight from LightGBM's TreeSHAP (bias column dropped).

        ``threads`` = 0 lets LightGBM use every core (request path); the warmer uses 1.
        """
        matrix = self.bundle.matrix(self.frame.iloc[rows])
        return self.bundle.contributions(matrix, self.basis, threads)

    def contributions(self, rows: np.ndarray) -> np.ndarray:
        """Contributions of ``rows`` (n, features), computing the missing ones now."""
        rows = np.asarray(rows, dtype=np.int64)
        missing = np.unique(rows[~self._done[rows]])
        if len(missing):
            self._store(missing, self.compute(missing))
        return self._values[rows].astype(float)

    def _store(self, rows: np.ndarray, values: np.ndarray) -> None:
        self._values[rows] = values
        self._done[rows] = True  # after the values: readers never see a half-written row

    def reasons(self, rows: np.ndarray, max_reasons: int,
                directions: np.ndarray | None = None) -> list[list[dict]]:
        """The ``max_reasons`` strongest reasons of each row, phrasing missing rows now.

        ``directions``: per row, +1 to explain why the score is high, -1 why it is low
        (``serving.targeting.kinds.reason_direction``); default +1.
        """
        rows = np.asarray(rows, dtype=np.int64)
        self._phrase(rows, threads=0)
        way = np.ones(len(rows), dtype=np.int8) if directions is None else directions
        return [arrange(self._reasons[row], int(d), max_reasons)
                for row, d in zip(rows, way, strict=True)]

    def pending(self, rows: np.ndarray) -> np.ndarray:
        """The rows among ``rows`` whose reasons are not phrased yet (unique, sorted).

        These are the slow part of an explained request (TreeSHAP, then phrasing); the
        service hands them to a worker thread so that its event loop stays free.
        """
        rows = np.asarray(rows, dtype=np.int64)
        return np.unique(rows[np.equal(self._reasons[rows], None)])

    def prepare(self, rows: np.ndarray) -> None:
        """Explain and phrase ``rows`` now, on every core, so that ``reasons`` only reads."""
        self._phrase(np.asarray(rows, dtype=np.int64), threads=0)

    def _phrase(self, rows: np.ndarray, threads: int) -> None:
        missing = self.pending(rows)
        if not len(missing):
            return
        todo = missing[~self._done[missing]]
        if len(todo):
            self._store(todo, self.compute(todo, threads=threads))
        phrased = split_reasons(
            self._values[missing].astype(float),
            self.features,
            self.frame.iloc[missing],
            MAX_REASONS,
            self.min_effect,
            self.basis,
        )
        holder = np.empty(len(missing), dtype=object)
        for i, pair in enumerate(phrased):  # element-wise: numpy would unpack the pairs
            holder[i] = pair
        self._reasons[missing] = holder

    @property
    def phrased(self) -> int:
        """Rows whose reasons are phrased and stored."""
        return int(np.not_equal(self._reasons, None).sum())

    def start_warming(self, priority: Iterable[np.ndarray], budget: int, batch: int = 256) -> None:
        """Explain up to ``budget`` rows in the background, in the order of ``priority``."""
        if budget <= 0:
            return
        self._thread = threading.Thread(
            target=self._warm,
            args=(list(priority), budget, batch),
            name="explain-warmer",
            daemon=True,
        )
        self._thread.start()

    def _warm(self, priority: list[np.ndarray], budget: int, batch: int) -> None:
        order = pd.unique(np.concatenate(priority)) if priority else np.zeros(0, dtype=np.int64)
        order = np.asarray(order[:budget], dtype=np.int64)
        try:
            for start in range(0, len(order), batch):
                if self._stop.is_set():
                    return
                self._phrase(order[start : start + batch], threads=1)
        except Exception:  # the request path still explains on demand
            logger.exception("background explanation stopped")

    def stop(self, wait: float = 0.0) -> None:
        """Stop the warmer (a replaced snapshot needs no more explanations)."""
        self._stop.set()
        if self._thread is not None and wait:
            self._thread.join(wait)

    def join(self, timeout: float | None = None) -> None:
        """Wait for the warmer to finish (tests, benchmarks)."""
        if self._thread is not None:
            self._thread.join(timeout)


def warm_order(index: object, per_clinic: int) -> list[np.ndarray]:
    """Rows most likely to be listed: each clinic's best by probability and by value.

    Clinics are interleaved in slices so that a small clinic is not starved by a big one.

    Returns:
        A list of row arrays, to be concatenated in order.
    """
    step = 1000
    eligible = [
        arrays.rows[arrays.channel_bits != 0]
        for entry in index.clinics.values()
        for arrays in entry.orders.values()
    ]
    return [
        rows[start : start + step]
        for start in range(0, per_clinic, step)
        for rows in eligible
        if start < len(rows)
    ]
