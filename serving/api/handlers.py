"""The work behind each endpoint, as plain functions of the served state and a request.

The BentoML service only authenticates, calls these and turns :class:`ApiError` into a
status code and a JSON body; everything here runs (and is tested) without HTTP.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from features.config import Settings
from serving.api.models import (
    Blocked,
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
from serving.targeting.ranking import Selection
from training.registry import ALIAS


class ApiError(Exception):
    """An answer other than 200: status, message and the request field at fault."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


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
    served: Served, selection: Selection, settings: Settings, explain: bool, max_reasons: int
) -> list[PatientRecord]:
    """Records of the selected rows, with reasons when asked (only these rows are explained)."""
    records = ranking.patient_records(served.index, selection, settings)
    if explain and len(selection.rows):
        reasons = served.explanations.reasons(selection.rows, max_reasons)
        for record, found in zip(records, reasons, strict=True):
            record["reasons"] = found
    return [PatientRecord.model_validate(r) for r in records]


def ordering(served: Served, request: RankRequest) -> tuple[str, str]:
    """The ordering ``POST /rank`` uses and why: the request's, else the bundle's default."""
    summary = served.bundle.uplift_summary()
    return ranking.resolve_ordering(served.index, request.rank_by, summary["ordering"],
                                    summary["ordering_reason"])


def select(served: Served, request: RankRequest) -> Selection:
    """The rows ``POST /rank`` lists: eligible, filtered, best first, at most ``limit``."""
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
            served.index, request.clinic_id, filters, request.limit, ordering(served, request)[0]
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
        model_version=served.version,
        snapshot_as_of=served.as_of,
        total_eligible=selection.total_eligible,
        patients=build_records(served, selection, settings, request.explain, request.max_reasons),
    )


def lookup(served: Served, request: ScoreRequest) -> ranking.Lookup:
    """The named patients of ``POST /score``, split by the contact policy."""
    try:
        return ranking.find_patients(
            served.index, request.clinic_id, request.patient_ids, request.channels
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
    return ScoreResponse(
        clinic_id=request.clinic_id,
        model_version=served.version,
        snapshot_as_of=served.as_of,
        patients=build_records(
            served, found.selection, settings, request.explain, request.max_reasons
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
