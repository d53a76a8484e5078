"""Request and response bodies of the HTTP API.

These models are the public contract campaign tools code against: field names are stable and
every field carries a description (it shows in the OpenAPI document at ``/docs.json``).
Every request model derives from :class:`StrictRequest`: unknown fields are refused, types
are not coerced (``"limit": "10"`` or ``"explain": "yes"`` is a 400 naming the field), and input
values are hidden in validation errors so that patient identifiers sent in a bad request never
reach a log line or an error body. A new route's request model opts in by subclassing it
(``tests/serving/api/test_contract.py`` fails for one that does not).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from features.vocabulary import CHANNELS, SEGMENTS

# The vocabulary's tuples as literal types: the OpenAPI enums follow ``features.vocabulary``.
Channel = Literal[CHANNELS]  # type: ignore[valid-type]
Segment = Literal[SEGMENTS]  # type: ignore[valid-type]
RankBy = Literal["probability", "expected_value", "uplift", "incremental_value"]
ReasonValue = str | float | int | bool | None

MAX_LIMIT = 5000
MAX_PATIENT_IDS = 5000

_REQUEST_CONFIG = ConfigDict(
    extra="forbid", hide_input_in_errors=True, str_strip_whitespace=True, strict=True
)


class StrictRequest(BaseModel):
    """Base of every request body: no unknown fields, no coercion, no input in errors."""

    model_config = _REQUEST_CONFIG


class ListRequest(StrictRequest):
    """Whom should a clinic contact: filters of one campaign plus the list size.

    The fields ``POST /rank`` and ``POST /campaigns`` share (a campaign is a /rank list).

    Filter lists are matched exactly as the export spells the values (``botox``, not
    ``Botox``); an empty list is refused like any other malformed filter, because "none of
    these" and "any" cannot be told apart.
    """

    clinic_id: str = Field(
        min_length=1,
        max_length=200,
        description="The clinic (tenant) to rank; must be in the token's scope.",
    )
    segments: list[Segment] | None = Field(
        None, min_length=1, description="Keep only patients in these inactivity segments (absent: all segments)."
    )
    services: list[str] | None = Field(
        None,
        min_length=1,
        max_length=1000,
        description="Keep only patients whose last service is one of these (absent: any)."
    )
    location_ids: list[str] | None = Field(
        None,
        min_length=1,
        max_length=1000,
        description="Keep only patients of these locations (absent: any location)."
    )
    provider_ids: list[str] | None = Field(
        None,
        min_length=1,
        max_length=1000,
        description="Keep only patients whose last provider is one of these (absent: any)."
    )
    min_days_since_visit: int | None = Field(
        None,
        ge=0,
        le=100_000,
        description="Keep only patients at least this many days since their last visit.",
    )
    max_days_since_visit: int | None = Field(
        None,
        ge=0,
        le=100_000,
        description="Keep only patients at most this many days since their last visit.",
    )
    channels: list[Channel] | None = Field(
        None,
        min_length=1,
        description="Campaign channels; the best channel is chosen among them (absent: all).",
    )
    limit: int = Field(
        100, ge=1, le=MAX_LIMIT, description="How many patients to return, best first (1-5000)."
    )
    rank_by: RankBy | None = Field(
        None,
        description="Order by return probability, expected value of the visit, uplift (extra "
        "booking probability a message adds) or incremental value (uplift x revenue - channel "
        "cost). Absent: the model's default ordering (see GET /model, default_ordering).",
    )
    explain: bool = Field(
        True, description="Attach plain-language reasons (SHAP contributions) to each patient."
    )
    max_reasons: int = Field(
        3, ge=1, le=10, description="At most this many reasons per patient (1-10)."
    )
    on: dt.date | None = Field(
        None,
        description="Policy day: the day the campaign will send; posted outcomes (sends, "
        "opt-outs, bookings) are judged at it (absent: today on the service's clock).",
    )

    @field_validator("max_days_since_visit")
    @classmethod
    def _max_not_below_min(cls, value: int | None, info: ValidationInfo) -> int | None:
        """A range with max below min is a client mistake worth naming, not an empty list."""
        low = info.data.get("min_days_since_visit")
        if value is not None and low is not None and value < low:
            raise ValueError("must not be below min_days_since_visit")
        return value


class RankRequest(ListRequest):
    """Whom should a clinic contact, one page at a time."""

    cursor: str | None = Field(
        None,
        min_length=1,
        max_length=500,
        description="Continue a list: the `next_cursor` of the previous page, sent with the "
        "same filters. Valid for the scored snapshot it came from (409 once a newer one is "
        "served: start again without a cursor).",
    )


class ScoreRequest(StrictRequest):
    """Score named patients of one clinic."""

    clinic_id: str = Field(
        min_length=1, max_length=200, description="The clinic (tenant) the patients belong to."
    )
    patient_ids: list[str] = Field(
        min_length=1, max_length=MAX_PATIENT_IDS, description="Patients to score (1-5000 ids)."
    )
    channels: list[Channel] | None = Field(
        None, min_length=1, description="Channels the campaign will use (absent: all)."
    )
    rank_by: RankBy | None = Field(
        None,
        description="The ordering each patient's rank refers to, as in POST /rank (absent: "
        "the model's default ordering, the one /rank uses without rank_by).",
    )
    explain: bool = Field(True, description="Attach plain-language reasons to each patient.")
    max_reasons: int = Field(
        3, ge=1, le=10, description="At most this many reasons per patient (1-10)."
    )
    on: dt.date | None = Field(
        None,
        description="Policy day, as in /rank: posted outcomes (sends, opt-outs, bookings) "
        "are judged at it (absent: today on the service's clock).",
    )


ReasonsExplain = Literal["return_probability", "uplift"]
REASONS_EXPLAIN = (
    "What the reasons explain: the return probability (orderings probability and "
    "expected_value, or no explainable uplift), or the uplift - why a message adds a "
    "booking (orderings uplift and incremental_value). The first reason points the way of "
    "the patient's kind: what raises the score for 'needs a nudge', what keeps the uplift "
    "low for 'likely to come back on their own'."
)


class Reason(BaseModel):
    """One reason behind the score a patient was ranked by (see ``reasons_explain``)."""

    feature: str = Field(description="Model feature the reason is about (stable machine name).")
    value: ReasonValue = Field(
        description="The patient's value of that feature at the snapshot date."
    )
    contribution: float = Field(
        description="SHAP contribution to the log-odds of the explained score: returning, or "
        "the patient's part of the uplift (positive: raises it); features telling one story "
        "(the timing measures, a channel's answers) are summed into one reason. Reasons "
        "moving the log-odds by less than serving.reason_min_effect are not shown."
    )
    text: str = Field(description="The reason as one plain-language sentence for front-desk staff.")


class PatientRecord(BaseModel):
    """One patient on an outreach list."""

    rank: int = Field(
        description="Position in the clinic's eligible list under this request (1 = best), "
        "in the answer's ordering; for /score, the list for the campaign's channels "
        "without other filters."
    )
    patient_id: str = Field(description="The clinic's patient identifier.")
    return_probability: float = Field(
        description="Calibrated probability of a completed visit within the horizon."
    )
    best_channel: Channel = Field(
        description="Channel to use: the likeliest to work among the allowed ones."
    )
    channel_probabilities: dict[str, float | None] = Field(
        description="Probability that a contact converts, per allowed channel (null when unknown)."
    )
    expected_value: float | None = Field(
        description="Expected revenue of reaching out, in the clinic's currency."
    )
    segment: str | None = Field(
        description="Inactivity segment: active, lapsing, inactive, dormant or lost."
    )
    days_since_last_visit: float | None = Field(
        description="Days since the last completed visit at the snapshot date."
    )
    last_service: str | None = Field(description="Service of the last completed visit.")
    uplift: float | None = Field(
        None, description="Extra booking probability a message on best_channel adds within "
        "the attribution window (null without an uplift estimate)."
    )
    incremental_value: float | None = Field(
        None, description="Uplift x expected revenue of the visit - the channel's cost (null "
        "without an uplift estimate)."
    )
    patient_kind: str | None = Field(
        None, description="Which kind of patient: 'needs a nudge', 'likely to come back on "
        "their own', 'unlikely to respond' or 'better left alone' (null without an uplift "
        "estimate)."
    )
    reasons: list[Reason] = Field(
        description="Strongest reasons first (empty when explain is false)."
    )


class RankResponse(BaseModel):
    """A ranked outreach list."""

    clinic_id: str = Field(description="The clinic the list is for.")
    ordering: RankBy = Field(description="The ordering this list was ranked by.")
    ordering_reason: str = Field(description="Why this ordering was used, in words.")
    reasons_explain: ReasonsExplain = Field(
        "return_probability", description=REASONS_EXPLAIN)
    model_version: str = Field(
        description="Registry version of the model that scored the snapshot."
    )
    snapshot_as_of: dt.date = Field(
        description="As-of date of the scored snapshot the list comes from."
    )
    total_eligible: int = Field(
        description="Patients passing the filters and the contact policy (before limit)."
    )
    patients: list[PatientRecord] = Field(description="Up to `limit` patients, best first.")
    next_cursor: str | None = Field(
        None,
        description="Send it as `cursor` (with the same filters) for the next page; null: "
        "this page ends the list.",
    )


class Blocked(BaseModel):
    """A patient found but not contactable under the contact policy."""

    patient_id: str = Field(description="The clinic's patient identifier.")
    policy_reasons: list[str] = Field(
        description="Policy rules that exclude the patient (machine names)."
    )


class ScoreResponse(BaseModel):
    """Records of named patients."""

    clinic_id: str = Field(description="The clinic the patients belong to.")
    ordering: RankBy = Field(description="The ordering the patients' ranks refer to.")
    ordering_reason: str = Field(description="Why this ordering was used, in words.")
    reasons_explain: ReasonsExplain = Field(
        "return_probability", description=REASONS_EXPLAIN)
    model_version: str = Field(
        description="Registry version of the model that scored the snapshot."
    )
    snapshot_as_of: dt.date = Field(description="As-of date of the scored snapshot.")
    patients: list[PatientRecord] = Field(description="Contactable patients, in request order.")
    not_contactable: list[Blocked] = Field(
        description="Patients the contact policy excludes, with the rules."
    )
    not_found: list[str] = Field(
        description="Requested ids that are not patients of this clinic's snapshot."
    )


class ReloadStatus(BaseModel):
    """What the periodic reload last did."""

    loaded_at: dt.datetime | None = Field(
        description="When the serving model and snapshot were loaded (UTC)."
    )
    last_check: dt.datetime | None = Field(
        description="When the service last looked for new artifacts (UTC)."
    )
    last_error: str | None = Field(
        description="Why the last candidate artifact was refused (null: none)."
    )
    last_error_at: dt.datetime | None = Field(description="When that refusal happened (UTC).")
    explanations_ready: int = Field(
        description="Snapshot rows whose explanations are already computed."
    )


class ModelInfo(BaseModel):
    """The model and snapshot being served."""

    version: str = Field(description="Registry version of the served model.")
    alias: str = Field(description="Registry alias the service follows.")
    registered_model: str = Field(description="Registered model name in the registry.")
    training_window: dict[str, Any] = Field(
        description="Dates the model was trained and validated on, and what could be "
        "validated: validation_mode, validated, not_validated (short exports cannot check "
        "everything), model_choice."
    )
    metrics: dict[str, Any] = Field(
        description="Validation metrics of the model and of the simple baselines."
    )
    features: list[str] = Field(description="Model input features, in model order.")
    snapshot_as_of: dt.date = Field(description="As-of date of the served snapshot.")
    snapshot_file: str = Field(description="File name of the served snapshot.")
    snapshot_rows: int = Field(description="Patients in the served snapshot (all clinics).")
    reload: ReloadStatus = Field(
        description="Reload status: a refused artifact keeps the last good one."
    )
    uplift_available: bool = Field(
        False, description="Whether the served model and snapshot estimate the bookings a "
        "message adds (uplift); without it lists are ranked by return probability."
    )
    uplift_reason: str = Field("", description="Where the uplift estimate comes from, or why "
                               "there is none.")
    default_ordering: RankBy = Field(
        "probability", description="The ordering /rank (and the ranks of /score) use when "
        "rank_by is absent."
    )
    ordering_reason: str = Field("", description="Why that is the default ordering.")


class ErrorBody(BaseModel):
    """Body of every error this service itself produces."""

    error: str = Field(description="What went wrong, in one sentence.")
    field: str | None = Field(None, description="The request field at fault, when one is.")
    detail: str | None = Field(None, description="Every problem found, as 'field: message'.")


def error_body(message: str, field: str | None = None) -> dict[str, Any]:
    """The JSON body of an error response (see :class:`ErrorBody`)."""
    return ErrorBody(error=message, field=field).model_dump()
