"""Ranking and lookup over a :class:`~serving.targeting.index.SnapshotIndex`.

Plain functions, no HTTP: the service calls them, and so can a notebook or the benchmark.
A request costs a handful of vectorised masks over one clinic's pre-sorted arrays; only the
returned rows are materialised.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.config import Settings
from features.vocabulary import CHANNELS
from serving.targeting import policy
from serving.targeting.index import (
    UPLIFT_ORDERINGS,
    ClinicIndex,
    OrderedArrays,
    SnapshotIndex,
    channel_bits_of,
)
from serving.targeting.kinds import patient_kinds
from training.channel_choice import choose_channels, incremental_values


class UnknownClinicError(LookupError):
    """The snapshot holds no patient of the requested clinic."""


@dataclass(frozen=True)
class RankFilters:
    """Campaign filters of ``POST /rank`` (None: no restriction)."""

    segments: Sequence[str] | None = None
    services: Sequence[str] | None = None
    location_ids: Sequence[str] | None = None
    provider_ids: Sequence[str] | None = None
    min_days_since_visit: float | None = None
    max_days_since_visit: float | None = None
    channels: Sequence[str] | None = None


@dataclass(frozen=True)
class Selection:
    """Rows chosen for a response, best first."""

    rows: np.ndarray  # positions in the snapshot frame
    ranks: np.ndarray  # 1-based rank of each row in the eligible list
    total_eligible: int
    channels: Sequence[str] | None
    # Position, in the clinic's ordering, of the last listed row when more eligible rows
    # follow it (None: the list ends here). Paging continues after it.
    resume_after: int | None = None


@dataclass(frozen=True)
class Lookup:
    """Outcome of looking up named patients (``POST /score``)."""

    selection: Selection  # the contactable ones, in request order
    blocked_ids: list[str]
    blocked_rules: list[list[str]]
    not_found: list[str]


def clinic(index: SnapshotIndex, clinic_id: str) -> ClinicIndex:
    """The clinic's index, or :class:`UnknownClinicError`."""
    try:
        return index.clinics[clinic_id]
    except KeyError:
        raise UnknownClinicError(clinic_id) from None


def _member_mask(codes: np.ndarray, wanted: np.ndarray, n_labels: int) -> np.ndarray:
    """``codes`` in ``wanted`` via a lookup table (faster than isin on a million rows)."""
    table = np.zeros(n_labels + 1, dtype=bool)  # last slot: code -1 (missing value)
    table[wanted] = True
    return table[codes]


def filter_mask(index: SnapshotIndex, arrays: OrderedArrays, filters: RankFilters) -> np.ndarray:
    """Eligible patients (policy + campaign channels) passing every filter, in array order."""
    mask = (arrays.channel_bits & channel_bits_of(filters.channels)) != 0
    wanted = {
        "segment": filters.segments,
        "service": filters.services,
        "location": filters.location_ids,
        "provider": filters.provider_ids,
    }
    for column, labels in wanted.items():
        codes = index.codes_for(column, list(labels) if labels is not None else None)
        if codes is not None:
            mask &= _member_mask(arrays.codes[column], codes, len(index.categories[column]))
    if filters.min_days_since_visit is not None:
        mask &= arrays.days >= filters.min_days_since_visit
    if filters.max_days_since_visit is not None:
        mask &= arrays.days <= filters.max_days_since_visit
    return mask


def resolve_ordering(index: SnapshotIndex, requested: str | None, default: str,
                     default_reason: str) -> tuple[str, str]:
    """The ordering a request is served with, and why, in words.

    Args:
        index: the served snapshot (does it carry an uplift estimate?).
        requested: the request's ``rank_by`` (None: the bundle's default).
        default: the bundle's default ordering (``training.default_ordering`` resolved by
            the backtest on the clinic's own held-out campaigns).
        default_reason: the bundle's words for that choice.

    Returns:
        ``(ordering, reason)``; an uplift ordering without an uplift estimate falls back to
        ``probability``, and the reason says so (never silently).
    """
    ordering = default if requested is None else requested
    reason = default_reason if requested is None else "asked for by the request (rank_by)"
    if ordering in UPLIFT_ORDERINGS and not index.has_uplift:
        return "probability", ("ranked by return probability: the snapshot has no uplift "
                               "estimate (no randomised holdouts or too little contact "
                               "history)")
    return ordering, reason


def rank_patients(
    index: SnapshotIndex,
    clinic_id: str,
    filters: RankFilters,
    limit: int,
    rank_by: str = "probability",
    after: int = -1,
) -> Selection:
    """The clinic's best ``limit`` eligible patients under ``filters``, ordered by ``rank_by``.

    ``after`` pages: only eligible patients placed after that position of the clinic's
    ordering are listed, ranked as in the whole list. The ordering is fixed per snapshot
    (ties broken by patient id), so consecutive pages list every eligible patient once.

    Raises:
        UnknownClinicError: the clinic has no patient in the snapshot.
    """
    arrays = clinic(index, clinic_id).orders[rank_by]
    positions = np.flatnonzero(filter_mask(index, arrays, filters))
    start = int(np.searchsorted(positions, after, side="right")) if after >= 0 else 0
    top = positions[start : start + limit]
    more = start + limit < len(positions)
    return Selection(
        rows=arrays.rows[top],
        ranks=np.arange(start + 1, start + len(top) + 1),
        total_eligible=int(len(positions)),
        channels=filters.channels,
        resume_after=int(top[-1]) if more and len(top) else None,
    )


def find_patients(
    index: SnapshotIndex, clinic_id: str, patient_ids: Sequence[str],
    channels: Sequence[str] | None, rank_by: str = "probability",
) -> Lookup:
    """Locate named patients of one clinic and split them by the contact policy.

    Ids of other clinics are reported as not found, exactly like ids that exist nowhere, so
    a client learns nothing about other tenants. Ranks are positions in the clinic's list
    ordered by ``rank_by`` (the ordering ``/rank`` would use, see :func:`resolve_ordering`)
    for the campaign's channels, without other filters.
    """
    entry = clinic(index, clinic_id)
    requested = pd.Index(pd.unique(np.asarray(list(patient_ids), dtype=object)))
    found_at = entry.position.reindex(requested).to_numpy(dtype=float)
    is_found = ~np.isnan(found_at)
    positions = found_at[is_found].astype(np.int64)
    arrays = entry.orders["probability"]
    wanted = channel_bits_of(channels)
    ok = (arrays.channel_bits[positions] & wanted) != 0
    rows = arrays.rows[positions]
    ordered = entry.orders[rank_by]
    eligible = (ordered.channel_bits & wanted) != 0
    places = entry.from_probability[rank_by][positions[ok]]
    blocked_rows = rows[~ok]
    rules = policy.blocking_rules(
        index.blocks.iloc[blocked_rows], index.permissions.iloc[blocked_rows], channels
    )
    found_ids = requested[is_found]
    return Lookup(
        selection=Selection(
            rows=rows[ok],
            ranks=np.cumsum(eligible)[places],
            total_eligible=int(eligible.sum()),
            channels=channels,
        ),
        blocked_ids=[str(i) for i in found_ids[~ok]],
        blocked_rules=rules,
        not_found=[str(i) for i in requested[~is_found]],
    )


def _optional(values: np.ndarray) -> list[float | None]:
    return [None if np.isnan(v) else float(v) for v in values]


def patient_records(index: SnapshotIndex, selection: Selection, settings: Settings) -> list[dict]:
    """Response records (without reasons) for the selected rows.

    The channel is chosen by ``training.channel_choice.choose_channels`` (costs from
    ``settings.policy``), the rule behind the snapshot's ``best_channel``: over all channels
    the two agree for every contactable patient.

    Returns:
        One dict per row with keys ``rank``, ``patient_id``, ``return_probability``,
        ``best_channel`` (chosen among the policy-permitted campaign channels),
        ``channel_probabilities`` (permitted campaign channels only), ``expected_value``,
        ``segment``, ``days_since_last_visit``, ``last_service``, ``uplift`` and
        ``incremental_value`` of the chosen channel (None without an estimate),
        ``patient_kind`` (``serving.targeting.kinds``) and an empty ``reasons``. With an
        uplift estimate the channel is the one with the highest incremental value.
    """
    rows = selection.rows
    bits = index.channel_bits[rows]
    permitted = ((bits[:, None] >> np.arange(len(CHANNELS))) & 1).astype(bool)
    permitted &= policy.campaign_channels(selection.channels)
    probabilities = index.probabilities[rows]
    uplift = index.uplift[rows]
    values = incremental_values(uplift, index.revenue[rows], permitted, settings) \
        if index.has_uplift else None
    if values is not None:  # no estimate for a row: fall back to the probability rule
        values = np.where(np.isnan(values).all(axis=1, keepdims=True) & permitted,
                          probabilities, values)
    choice = choose_channels(probabilities, permitted, settings, values)
    if (choice < 0).any():
        raise RuntimeError("a selected patient has no permitted channel")  # policy invariant
    picked = np.arange(len(rows))
    chosen_uplift = uplift[picked, choice]
    chosen_value = values[picked, choice] if values is not None else np.full(len(rows), np.nan)
    chosen_value = np.where(np.isnan(chosen_uplift), np.nan, chosen_value)
    out = {name: values[rows] for name, values in index.outputs.items()}
    channel_names = np.array(CHANNELS)
    columns = {
        "rank": selection.ranks.astype(int).tolist(),
        "patient_id": out["patient_id"].tolist(),
        "return_probability": out["return_probability"].tolist(),
        "best_channel": channel_names[choice].tolist(),
        "channel_probabilities": [
            {
                c: (None if np.isnan(p) else float(p))
                for c, p, ok in zip(CHANNELS, prow, okrow, strict=True)
                if ok
            }
            for prow, okrow in zip(probabilities, permitted, strict=True)
        ],
        "expected_value": _optional(out["expected_value"]),
        "segment": out["segment"].tolist(),
        "days_since_last_visit": _optional(out["days_since_last_visit"]),
        "last_service": out["last_service"].tolist(),
        "uplift": _optional(chosen_uplift),
        "incremental_value": _optional(chosen_value),
        "patient_kind": patient_kinds(chosen_uplift, out["return_probability"],
                                      settings).tolist(),
    }
    return [
        {**dict(zip(columns, values, strict=True)), "reasons": []}
        for values in zip(*columns.values(), strict=True)
    ]
