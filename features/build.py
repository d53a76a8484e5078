"""The orchestrator: one point-in-time feature frame per as-of date.

Why one place: each family is a pure function of the same as-of view of the export; preparing
that view (factorised ids, sorted events) is the expensive part, so it is done once here and
shared by the families - and, in :func:`build_many`, by every as-of date of a training run.

Time rule: an as-of date T means the end of day T. An event is known at T iff its timestamp
is strictly before the cutoff, midnight after T (``ts < cutoff(T)``; ``features.asof``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pandas as pd

from features import cadence, channels, demographics, reliability, segments, value
from features.asof import as_timestamp
from features.config import Settings
from features.events import Prepared, at, prepare
from features.spec import FEATURE_NAMES
from features.tables import Tables

FAMILIES: tuple[str, ...] = (
    "cadence", "value", "reliability", "segments", "channels", "demographics",
)

StepCallback = Callable[[str], None]


def build(
    tables: Tables,
    as_of: str | pd.Timestamp,
    settings: Settings,
    on_step: StepCallback | None = None,
) -> pd.DataFrame:
    """Every feature of every patient of ``tables`` as of the end of day ``as_of``.

    Args:
        tables: a validated export (not modified).
        as_of: the as-of date T; events count iff their timestamp is ``< cutoff(T)``.
        settings: the product settings (``settings.features`` is used).
        on_step: optional callback, called with each step name before it runs (progress).

    Returns:
        Frame indexed by ``patient_id`` (every patient of ``tables.patients``, in order), with
        ``clinic_id`` first, then the columns of ``features.spec.FEATURE_NAMES`` in that
        order. Patients without a completed visit before the cutoff get missing cadence,
        value-per-visit and segment features.
    """
    _step(on_step, "prepare")
    return build_prepared(prepare(tables), as_of, settings, on_step)


def build_many(
    tables: Tables, as_ofs: Iterable[str | pd.Timestamp], settings: Settings
) -> pd.DataFrame:
    """Features at several as-of dates, preparing the export only once.

    Returns:
        Frame with a two-level index (``as_of``: midnight of each as-of day, ``patient_id``)
        and the columns of :func:`build`; one block of rows per as-of date, in the given order.
    """
    prepared = prepare(tables)
    frames = []
    for as_of in as_ofs:
        frame = build_prepared(prepared, as_of, settings)
        frame.index = pd.MultiIndex.from_arrays(
            [pd.DatetimeIndex([as_timestamp(as_of)] * len(frame)), frame.index],
            names=["as_of", "patient_id"],
        )
        frames.append(frame)
    if not frames:
        empty = build_prepared(prepared, prepared.export_date, settings).iloc[:0]
        empty.index = pd.MultiIndex.from_arrays([pd.DatetimeIndex([]), empty.index],
                                                names=["as_of", "patient_id"])
        return empty
    return pd.concat(frames)


def build_prepared(
    prepared: Prepared,
    as_of: str | pd.Timestamp,
    settings: Settings,
    on_step: StepCallback | None = None,
) -> pd.DataFrame:
    """Features from an export already passed through ``features.events.prepare``."""
    ev = at(prepared, as_of, settings.features.attribution_days)
    _step(on_step, "cadence")
    cad = cadence.from_events(ev, settings)
    _step(on_step, "value")
    val = value.from_events(ev, settings)
    _step(on_step, "reliability")
    rel = reliability.from_events(ev, settings)
    _step(on_step, "segments")
    seg = segments.from_cadence(cad, settings)
    _step(on_step, "channels")
    chan = channels.from_events(ev, settings)
    _step(on_step, "demographics")
    demo = demographics.from_patients(prepared.patients, as_of, settings)
    demo.index = ev.index
    clinic = pd.DataFrame({"clinic_id": prepared.clinics[prepared.clinic]}, index=ev.index)
    frame = pd.concat([clinic, cad, val, rel, seg, chan, demo], axis=1, copy=False)
    return frame[["clinic_id", *FEATURE_NAMES]]


def _step(on_step: StepCallback | None, name: str) -> None:
    if on_step is not None:
        on_step(name)
