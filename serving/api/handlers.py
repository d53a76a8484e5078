"""The work behind each endpoint, as plain functions of the served state and a request.

The BentoML service only authenticates, calls these and turns :class:`ApiError` into a
status code and a JSON body; everything here runs (and is tested) without HTTP.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from features.config import Settings
from serving.api import paging
from serving.api.errors import ApiError
from serving.api.models import (
    Blocked,
    ListRequest,
    ModelInfo,
    PatientRecord,
    RankRequest,
    RankResponse,
    ReloadStatus,
    ScoreRequest,
    ScoreResponse,
)
from serving.api.state import Served, ServingState
from serving.targeting import ranking
from serving.targeting.explanations import explanation_basis
from serving.targeting.index import SnapshotIndex
from serving.targeting.kinds import reason_direction
from serving.targeting.ranking import Selection
from training.bundle import UPLIFT_BASIS
from training.registry import ALIAS


def authorize(clinics: frozenset[str], clinic_id: str) -> None:
    """403 unless the token's scope holds ``clinic_id`` (checked before existence)."""
    if clinic_id not in clinics:
        raise ApiError(403, "this token may not access that clinic", "clinic_id")


def require(served: Served | None) -> Served:
    """The served pair, or 503 while nothing valid has been loaded yet."""
    if served is None:
        raise ApiError(503, "no model and scored snapshot loaded yet; see GET /model")
    return served


def _clinic_error(clinic_id: str) -> ApiError:
    return ApiError(
        404, f"clinic {clinic_id!r} has no patients in the served snapshot", "clinic_id"
    )


def build_records(
    served: Served, selection: Selection, settings: Settings, explain: bool, max_reasons: int,
    ordering: str | None = None,
) -> list[PatientRecord]:
    """Records of the selected rows, with reasons when asked (only these rows are explained).

    The reasons explain the score of ``ordering`` (``Served.explanations_for``; None: the
    default ordering's) and point the way of each patient's group (``serving.targeting.kinds.reason_direction``).
    """
    records = ranking.patient_records(served.index, selection, settings)
    if explain and len(selection.rows):
        store = served.explanations_for(ordering)
        directions = reason_direction([r["patient_kind"] for r in records], store.basis)
        reasons = store.reasons(selection.rows, max_reasons, directions)
        for record, found in zip(records, reasons, strict=True):
            record["reasons"] = found
    return [PatientRecord.model_validate(r) for r in records]


def reasons_explain(served: Served, ordering: str) -> str:
    """What a list's reasons explain, in the answer's words."""
    basis = explanation_basis(served.bundle, served.index, ordering)
    return "uplift" if basis == UPLIFT_BASIS else "return_probability"


def ordering(served: Served, request: RankRequest | ScoreRequest) -> tuple[str, str]:
    """The ordering of ``POST /rank`` and the ranks of ``POST /score``, and why: the
    request's ``rank_by``, else the bundle's default (one rule for both routes)."""
    summary = served.bundle.uplift_summary()
    return ranking.resolve_ordering(served.index, request.rank_by, summary["ordering"],
                                    summary["ordering_reason"])


# Request field -> coded snapshot column whose labels the field's values must match.
LABEL_FILTERS: dict[str, str] = {
    "services": "service",
    "location_ids": "location",
    "provider_ids": "provider",
}
KNOWN_SHOWN = 5


def check_filter_values(index: SnapshotIndex, request: ListRequest) -> None:
    """400 naming the filter values the clinic's snapshot does not hold, with a few it does.

    Values are matched exactly as the export spells them. A value known only in another
    clinic is unknown here too, and the known values shown are this clinic's own, so one
    tenant learns nothing about another's services, locations or providers.

    Raises:
        ApiError: 400 for the first filter holding an unknown value; 404 for a clinic with
            no patients.
    """
    try:
        entry = ranking.clinic(index, request.clinic_id)
    except ranking.UnknownClinicError:
        raise _clinic_error(request.clinic_id) from None
    for field, column in LABEL_FILTERS.items():
        values = getattr(request, field)
        if values is None:
            continue
        labels = index.categories[column]
        codes = labels.get_indexer(pd.Index(values, dtype=object))
        present = entry.present[column]
        unknown = [v for v, c in zip(values, codes, strict=True) if c < 0 or not present[c]]
        if unknown:
            known = sorted(labels[present])
            shown = ", ".join(repr(v) for v in known[:KNOWN_SHOWN])
            more = f" (of {len(known)})" if len(known) > KNOWN_SHOWN else ""
            names = ", ".join(repr(v[:60]) for v in unknown[:KNOWN_SHOWN])
            raise ApiError(
                400,
                f"{field}: unknown value(s) {names} for this clinic; values are matched as "
                f"the export spells them, known ones include {shown or 'none'}{more}",
                field,
            )


def select(served: Served, request: ListRequest) -> Selection:
    """The rows ``POST /rank`` lists: eligible, filtered, best first, at most ``limit``.

    A request with a ``cursor`` continues after the page the cursor ended (see
    :mod:`serving.api.paging`).
    """
    check_filter_values(served.index, request)
    after = paging.decode_cursor(served, request, getattr(request, "cursor", None))
    filters = ranking.RankFilters(
        segments=request.segments,
        services=request.services,
        location_ids=request.location_ids,
        provider_ids=request.provider_ids,
        min_days_since_visit=request.min_days_since_visit,
        max_days_since_visit=request.max_days_since_visit,
        channels=request.channels,
    )
    try:
        return ranking.rank_patients(
            served.index, request.clinic_id, filters, request.limit,
            ordering(served, request)[0], after
        )
    except ranking.UnknownClinicError:
        raise _clinic_error(request.clinic_id) from None


def rank_response(
    served: Served, request: RankRequest, selection: Selection, settings: Settings
) -> RankResponse:
    """The ``POST /rank`` answer for rows already selected."""
    used, why = ordering(served, request)
    return RankResponse(
        clinic_id=request.clinic_id,
        ordering=used,
        ordering_reason=why,
        reasons_explain=reasons_explain(served, used),
        model_version=served.version,
        snapshot_as_of=served.as_of,
        total_eligible=selection.total_eligible,
        patients=build_records(served, selection, settings, request.explain, request.max_reasons,
                               used),
        next_cursor=None
        if selection.resume_after is None
        else paging.encode_cursor(served, request, selection.resume_after),
    )


def lookup(served: Served, request: ScoreRequest) -> ranking.Lookup:
    """The named patients of ``POST /score``, split by the contact policy."""
    try:
        return ranking.find_patients(
            served.index, request.clinic_id, request.patient_ids, request.channels,
            ordering(served, request)[0],
        )
    except ranking.UnknownClinicError:
        raise _clinic_error(request.clinic_id) from None


def score_response(
    served: Served, request: ScoreRequest, found: ranking.Lookup, settings: Settings
) -> ScoreResponse:
    """The ``POST /score`` answer for patients already looked up."""
    blocked = [
        Blocked(patient_id=pid, policy_reasons=rules)
        for pid, rules in zip(found.blocked_ids, found.blocked_rules, strict=True)
    ]
    used, why = ordering(served, request)
    return ScoreResponse(
        clinic_id=request.clinic_id,
        ordering=used,
        ordering_reason=why,
        reasons_explain=reasons_explain(served, used),
        model_version=served.version,
        snapshot_as_of=served.as_of,
        patients=build_records(
            served, found.selection, settings, request.explain, request.max_reasons, used
        ),
        not_contactable=blocked,
        not_found=found.not_found,
    )


def model_info(state: ServingState) -> ModelInfo:
    """``GET /model``: what is served, how good it was, and how the last reload went."""
    served = require(state.current)
    bundle = served.bundle
    status = state.status
    summary = bundle.uplift_summary()
    default, why = ranking.resolve_ordering(served.index, None, summary["ordering"],
                                            summary["ordering_reason"])
    return ModelInfo(
        uplift_available=bool(summary["uplift_available"]) and served.index.has_uplift,
        uplift_reason=summary["reason"],
        default_ordering=default,
        ordering_reason=why,
        version=served.version,
        alias=ALIAS,
        registered_model=state.settings.training.registered_model_name,
        training_window=dict(bundle.window),
        metrics=_finite(bundle.metrics),
        features=list(bundle.features),
        snapshot_as_of=served.as_of,
        snapshot_file=served.snapshot_path.name,
        snapshot_rows=served.index.rows,
        reload=ReloadStatus(
            loaded_at=served.loaded_at,
            last_check=status.last_check,
            last_error=status.last_error,
            last_error_at=status.last_error_at,
            explanations_ready=served.explanations.phrased,
        ),
    )


def _finite(value: object) -> object:
    """Metrics with NaN/inf replaced by None (JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [_finite(v) for v in value]
    if isinstance(value, float | np.floating) and not np.isfinite(value):
        return None
    return value.item() if isinstance(value, np.generic) else value
