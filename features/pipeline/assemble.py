"""The orchestrator: one point-in-time feature frame per as-of date.

Why one place: each family is a pure function of the same as-of view of the export; preparing
that view (factorised ids, sorted events) is the expensive part, so it is done once here and
shared by the families - and, in :func:`build_many`, by every as-of date of a training run.

Time rule: an as-of date T means the end of day T. An event is known at T iff its timestamp
is strictly before the cutoff, midnight after T (``ts < cutoff(T)``; ``features.vocabulary``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd

from features.config import Settings
from features.export.tables import Tables
from features.pipeline import (
    cadence,
    channels,
    demographics,
    episodes,
    reliability,
    segments,
    value,
)
from features.pipeline.events import Prepared, at, prepare
from features.spec import typed_frame
from features.vocabulary import as_timestamp

FAMILIES: tuple[str, ...] = (
    "cadence", "episodes", "value", "reliability", "segments", "channels", "demographics",
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
        ``clinic_id`` first, then the columns of ``features.spec.feature_names`` (of the
        contact cap's window, ``settings.policy.max_contacts_window_days``) in that order.
        Patients without a completed visit before the cutoff get missing cadence,
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


def build_rows(tables: Tables, rows: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Features for arbitrary (patient, as-of) pairs, e.g. one row per past contact.

    Args:
        rows: frame with columns ``patient_id`` and ``as_of`` (for a contact sent on day D,
            pass D - 1 day so the contact itself and its outcome are not yet known).

    Returns:
        Frame with the index of ``rows``, columns ``patient_id``, ``as_of`` and those of
        :func:`build`; features of unknown patients are missing. The export is prepared once
        and each distinct as-of day is built once.
    """
    prepared = prepare(tables)
    days = pd.to_datetime(rows["as_of"]).dt.normalize().reset_index(drop=True)
    ids = rows["patient_id"].to_numpy()
    parts, positions = [], []
    for day, where in days.groupby(days, sort=True).indices.items():
        parts.append(build_prepared(prepared, day, settings).reindex(ids[where]))
        positions.append(where)
    if not parts:  # no rows: still the right columns
        parts.append(build_prepared(prepared, prepared.export_date, settings).iloc[:0])
        positions.append(np.zeros(0, dtype=np.int64))
    out = pd.concat(parts).iloc[np.argsort(np.concatenate(positions), kind="stable")]
    out.index = rows.index
    out.insert(0, "as_of", days.to_numpy())
    out.insert(0, "patient_id", ids)
    return out


def build_prepared(
    prepared: Prepared,
    as_of: str | pd.Timestamp,
    settings: Settings,
    on_step: StepCallback | None = None,
) -> pd.DataFrame:
    """Features as of ``as_of`` from an export already passed through ``prepare``.

    The building block of :func:`build`, :func:`build_many` and training's snapshot loops:
    preparing once and calling this per as-of date avoids re-hashing ids and re-sorting
    events. Same result and columns as :func:`build`.
    """
    ev = at(prepared, as_of, settings.features.attribution_days)
    values: dict[str, np.ndarray] = {"clinic_id": prepared.clinics[prepared.clinic]}
    _step(on_step, "cadence")
    values.update(cadence.columns(ev, settings))
    _step(on_step, "episodes")
    values.update(episodes.columns(ev, settings))
    _step(on_step, "value")
    values.update(value.columns(ev, settings))
    _step(on_step, "reliability")
    values.update(reliability.columns(ev, settings))
    _step(on_step, "segments")
    values.update(segments.columns(values["days_since_last_visit"], values["overdue_ratio"],
                                   settings))
    _step(on_step, "channels")
    values.update(channels.columns(ev, settings))
    _step(on_step, "demographics")
    values.update(demographics.columns(prepared.patients, as_of, settings))
    return typed_frame(values, ev.index, None, settings.policy.max_contacts_window_days)


def _step(on_step: StepCallback | None, name: str) -> None:
    if on_step is not None:
        on_step(name)
