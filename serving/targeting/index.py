"""A scored snapshot laid out for fast per-request ranking.

Built once per loaded snapshot (seconds for a million patients) so that a request costs a
few numpy masks over one clinic's contiguous arrays. For each clinic and each ordering
(``probability``, ``expected_value``, ``uplift``, ``incremental_value``) the arrays are
stored already sorted best first, so the top-N of a filtered request is the first N positions of a boolean mask.

The contact policy is folded in at build time: ``channel_bits`` holds, per patient, one bit
per channel of ``CHANNELS`` that the policy permits (``training.channel_choice``), and is zero
for patients blocked by a patient-level rule. A patient is eligible for a campaign iff
``channel_bits & campaign != 0``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from features.config import Settings
from features.vocabulary import CHANNELS
from serving.targeting import policy
from training.channel_choice import channel_permissions

ORDERINGS: dict[str, str] = {
    "probability": "return_probability",
    "expected_value": "expected_value",
    "uplift": "uplift",
    "incremental_value": "incremental_value",
}
UPLIFT_ORDERINGS: frozenset[str] = frozenset({"uplift", "incremental_value"})
# The tie-free key of the probability ordering (``training.rank_score``): the model's own
# order, exact ties broken by closeness to the usual interval. Snapshots without it (written
# before it existed, or made by hand) rank by ``return_probability``.
RANK_KEY = "rank_score"
CODED_COLUMNS: dict[str, str] = {
    "segment": "segment",
    "service": "last_service",
    "location": "location_id",
    "provider": "last_provider_id",
}
REQUIRED_COLUMNS: tuple[str, ...] = ("patient_id", "clinic_id", "return_probability")
NUMERIC_OUTPUTS: tuple[str, ...] = ("return_probability", "expected_value", "days_since_last_visit",
                                     "uplift", "incremental_value")
LABEL_OUTPUTS: tuple[str, ...] = ("patient_id", "segment", "last_service")


def channel_bit_masks(permitted: np.ndarray) -> np.ndarray:
    """Pack an (n, len(CHANNELS)) boolean matrix into one uint8 per row (bit i: channel i)."""
    weights = (1 << np.arange(len(CHANNELS))).astype(np.uint8)
    return (np.asarray(permitted, dtype=np.uint8) * weights).sum(axis=1).astype(np.uint8)


def channel_bits_of(channels: list[str] | tuple[str, ...] | None) -> int:
    """The bit mask of a campaign's channels (None: all channels)."""
    mask = policy.campaign_channels(channels)
    return int(channel_bit_masks(mask[None, :])[0])


@dataclass
class OrderedArrays:
    """One clinic's patients sorted best first under one ordering (all arrays aligned)."""

    rows: np.ndarray  # positions in the snapshot frame
    channel_bits: np.ndarray
    days: np.ndarray
    codes: dict[str, np.ndarray]


@dataclass
class ClinicIndex:
    """Everything a request on one clinic needs."""

    clinic_id: str
    orders: dict[str, OrderedArrays]
    position: pd.Series  # patient_id -> position in the ``probability`` ordering
    size: int
    # per ordering, the position in it of the patient at each ``probability`` position
    # (``/score`` ranks named patients in any ordering without sorting again)
    from_probability: dict[str, np.ndarray] = field(default_factory=dict)
    # per coded column, a lookup table: code -> does this clinic hold the label
    present: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class SnapshotIndex:
    """A scored snapshot plus per-clinic sorted arrays.

    Attributes:
        frame: the snapshot as loaded (positional rows; never modified).
        categories: per coded column, its category labels (codes index into them).
        probabilities: (n, len(CHANNELS)) channel conversion probabilities, NaN if unknown.
        uplift: (n, len(CHANNELS)) extra booking probability per channel, NaN if unknown.
        revenue: per row, expected revenue of a visit (``expected_value`` over
            ``return_probability``; the snapshot keeps the product only).
        channel_bits: per snapshot row, the policy-permitted channels as bits.
        blocks: per snapshot row, the patient-level policy rules that block it.
        permissions: per snapshot row, the permitted channels.
        outputs: response columns as numpy arrays (numbers as float with NaN, labels as
            objects with None), so a page of records never indexes the frame.
    """

    frame: pd.DataFrame
    categories: dict[str, pd.Index]
    probabilities: np.ndarray
    uplift: np.ndarray
    revenue: np.ndarray
    channel_bits: np.ndarray
    blocks: pd.DataFrame
    permissions: pd.DataFrame
    outputs: dict[str, np.ndarray] = field(default_factory=dict)
    clinics: dict[str, ClinicIndex] = field(default_factory=dict)

    @property
    def has_uplift(self) -> bool:
        """True when the snapshot carries an uplift estimate for some patient."""
        return bool(np.isfinite(self.uplift).any())

    @property
    def rows(self) -> int:
        """Patients in the snapshot, all clinics."""
        return len(self.frame)

    def codes_for(self, column: str, labels: list[str] | None) -> np.ndarray | None:
        """Category codes of ``labels`` in a coded column (unknown labels are dropped)."""
        if labels is None:
            return None
        found = self.categories[column].get_indexer(pd.Index(labels, dtype=object))
        return found[found >= 0]


def _codes(frame: pd.DataFrame, column: str) -> tuple[np.ndarray, pd.Index]:
    if column not in frame.columns:
        return np.full(len(frame), -1, dtype=np.int32), pd.Index([], dtype=object)
    categorical = pd.Categorical(frame[column].astype("object").where(frame[column].notna(), None))
    return categorical.codes.astype(np.int32), pd.Index(categorical.categories.astype(str))


def _numeric(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _labels(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame.columns:
        return np.full(len(frame), None, dtype=object)
    known = frame[column].notna().to_numpy()
    labels = np.full(len(frame), None, dtype=object)
    labels[known] = frame[column][known].astype(str).to_numpy(dtype=object)
    return labels


def build_index(snapshot: pd.DataFrame, settings: Settings) -> SnapshotIndex:
    """Lay out ``snapshot`` for ranking; the policy is evaluated here once.

    Raises:
        ValueError: when a required column is missing, ids repeat within a clinic, or the
            policy cannot be applied (see :func:`serving.targeting.policy.check_policy_columns`).
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in snapshot.columns]
    if missing:
        raise ValueError(f"snapshot lacks required columns {missing}")
    policy.check_policy_columns(snapshot, settings)
    frame = snapshot.reset_index(drop=True)
    if frame.duplicated(["clinic_id", "patient_id"]).any():
        raise ValueError("snapshot repeats a patient_id within a clinic")
    permissions = channel_permissions(frame, settings)
    blocks = policy.patient_blocks(frame, settings)
    permitted = permissions.to_numpy(dtype=bool) & ~blocks.to_numpy(dtype=bool).any(axis=1)[:, None]
    bits = channel_bit_masks(permitted)
    probabilities = np.column_stack([_numeric(frame, f"p_{c}") for c in CHANNELS])
    uplift = np.column_stack([_numeric(frame, f"uplift_{c}") for c in CHANNELS])
    p_return = _numeric(frame, "return_probability")
    with np.errstate(divide="ignore", invalid="ignore"):
        revenue = np.where(p_return > 0, _numeric(frame, "expected_value") / p_return, np.nan)
    days = _numeric(frame, "days_since_last_visit")
    coded = {name: _codes(frame, column) for name, column in CODED_COLUMNS.items()}
    index = SnapshotIndex(
        frame=frame,
        categories={name: labels for name, (_, labels) in coded.items()},
        probabilities=probabilities,
        uplift=uplift,
        revenue=revenue,
        channel_bits=bits,
        blocks=blocks,
        permissions=permissions,
        outputs={
            **{c: _numeric(frame, c) for c in NUMERIC_OUTPUTS},
            **{c: _labels(frame, c) for c in LABEL_OUTPUTS},
        },
    )
    scores = {name: _numeric(frame, column) for name, column in ORDERINGS.items()}
    if RANK_KEY in frame.columns:
        scores["probability"] = _numeric(frame, RANK_KEY)
    # every ordering's ties go to the probability order, then (identical patients) to the id
    tie_key = np.where(np.isnan(scores["probability"]), np.inf, -scores["probability"])
    patient_ids = frame["patient_id"].astype(str).to_numpy()
    id_rank = np.empty(len(frame), dtype=np.int64)
    id_rank[np.argsort(patient_ids, kind="stable")] = np.arange(len(frame))
    clinic_codes, clinic_labels = pd.factorize(frame["clinic_id"].astype(str), sort=True)
    grouping = np.argsort(clinic_codes, kind="stable")
    place = np.empty(len(frame), dtype=np.int32)  # scratch: row -> position in one ordering
    bounds = np.searchsorted(clinic_codes[grouping], np.arange(len(clinic_labels) + 1))
    for number, clinic_id in enumerate(clinic_labels):
        members = grouping[bounds[number] : bounds[number + 1]]
        orders = {}
        for name, score in scores.items():
            # best first; missing scores last; ties by the probability order, then patient id
            key = np.where(np.isnan(score[members]), np.inf, -score[members])
            rows = members[np.lexsort((id_rank[members], tie_key[members], key))]
            orders[name] = OrderedArrays(
                rows=rows,
                channel_bits=bits[rows],
                days=days[rows],
                codes={col: codes[rows] for col, (codes, _) in coded.items()},
            )
        by_probability = orders["probability"].rows
        position = pd.Series(np.arange(len(by_probability)), index=patient_ids[by_probability])
        from_probability = {}
        for name, arrays in orders.items():
            place[arrays.rows] = np.arange(len(arrays.rows), dtype=np.int32)
            from_probability[name] = place[by_probability].copy()
        present = {}
        for col, (codes, labels) in coded.items():
            table = np.zeros(len(labels) + 1, dtype=bool)
            table[codes[members]] = True
            present[col] = table[: len(labels)]
        index.clinics[str(clinic_id)] = ClinicIndex(
            clinic_id=str(clinic_id),
            orders=orders,
            position=position,
            size=len(members),
            present=present,
            from_probability=from_probability,
        )
    return index
