"""Request and response bodies of ``POST /campaigns`` and ``POST /outcomes``.

Like :mod:`serving.api.models`, every field is described (it shows at ``/docs.json``) and
request models hide input values in validation errors. Events are taken as plain objects and
checked one by one (``features.outcomes.events``), so one bad event is refused with its index
instead of failing the whole batch.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field

from serving.api.models import (
    Channel,
    ListRequest,
    PatientRecord,
    StrictRequest,
)

MAX_EVENTS = 10_000


class CampaignRequest(ListRequest):
    """Start a campaign: the /rank fields pick its members, a seeded draw holds some out."""

    campaign_id: str = Field(
        min_length=1, max_length=200,
        description="The campaign's id, unique per clinic (409 when it exists).",
    )
    name: str | None = Field(None, max_length=500, description="A name for people.")
    holdout_share: float = Field(
        0.1, ge=0.0, le=0.5,
        description="Share of the members held out at random (not contacted), 0-0.5.",
    )
    seed: int | None = Field(
        None, ge=0, le=2**63 - 1,
        description="Seed of the holdout draw (absent: drawn and recorded); the same seed "
        "on the same list gives the same arms.",
    )
    sequence: bool = Field(
        False,
        description="Plan an outreach sequence per treatment member (up to "
        "`policy.sequences.max_attempts` attempts across channels, 7-14 days apart); "
        "GET /campaigns/{campaign_id}/due then lists each day's attempts, re-planned from "
        "the outcomes posted.",
    )


class PlannedAttempt(BaseModel):
    """One attempt of a member's sequence, as planned when the campaign started."""

    attempt: int = Field(description="1-based attempt number.")
    channel: Channel = Field(description="Channel of the attempt.")
    send_on: dt.date = Field(description="Day the attempt is planned for (if no reaction).")


class CampaignRecord(PatientRecord):
    """A treatment member: the /rank record, with its planned sequence in a sequence campaign."""

    sequence: list[PlannedAttempt] | None = Field(
        None, description="Planned attempts, first to last (null unless `sequence` was asked)."
    )


class DueAttempt(BaseModel):
    """An attempt to send on the day asked."""

    patient_id: str = Field(description="The clinic's patient identifier.")
    attempt: int = Field(description="1-based attempt number within the member's sequence.")
    channel: Channel = Field(description="Channel to send it on.")


class DueResponse(BaseModel):
    """``GET /campaigns/{campaign_id}/due``: what a campaign tool sends that day."""

    campaign_id: str = Field(description="The campaign's id.")
    on: dt.date = Field(description="The day asked for.")
    due: list[DueAttempt] = Field(
        description="Attempts due that day (planned for it or earlier, not sent yet), "
        "re-planned from every outcome posted so far; holdout members never appear."
    )


class CampaignResponse(BaseModel):
    """A started campaign: whom to contact now. Holdout members are never named."""

    clinic_id: str = Field(description="The clinic the campaign belongs to.")
    campaign_id: str = Field(description="The campaign's id.")
    started_at: dt.datetime = Field(
        description="When the members were assigned (clinic local time)."
    )
    seed: int = Field(description="Seed of the holdout draw (recorded with the campaign).")
    model_version: str = Field(description="Registry version of the model behind the list.")
    snapshot_as_of: dt.date = Field(description="As-of date of the scored snapshot.")
    treatment: list[CampaignRecord] = Field(
        description="The treatment arm as /rank records, best first (ranks within the arm)."
    )
    holdout_count: int = Field(description="Members held out (recorded, not listed).")


class OutcomesRequest(StrictRequest):
    """A batch of outcome events of one clinic."""

    clinic_id: str = Field(
        min_length=1, max_length=200, description="The clinic posting; must be in the token's scope."
    )
    events: list[dict[str, Any]] = Field(
        min_length=1, max_length=MAX_EVENTS,
        description="1-10,000 outcome events: event_id, patient_id, type, at, and when they "
        "apply campaign_id, channel, revenue, cost, appointment_at (docs/data-contract.md).",
    )


class Rejection(BaseModel):
    """One refused event."""

    index: int = Field(description="Position of the event in the posted list (0-based).")
    field: str = Field(description="The event field at fault.")
    reason: str = Field(description="The rule it broke; `conflict`: event_id known with other content.")


class OutcomesResponse(BaseModel):
    """What became of a batch: stored once, already stored, or refused."""

    accepted: int = Field(description="Events stored by this call.")
    duplicates: int = Field(description="Events already stored with the same content.")
    rejected: int = Field(description="Events refused (nothing of them stored).")
    rejections: list[Rejection] = Field(description="Each refused event, in posted order.")


class DueQuery(StrictRequest):
    """Query parameters of ``GET /campaigns/{campaign_id}/due``."""

    clinic_id: str = Field(..., min_length=1, max_length=200,
                           description="The clinic that started the campaign.")
    on: str = Field(..., description="The day to send (YYYY-MM-DD).")


class ResultsQuery(StrictRequest):
    """Query parameters of ``GET /campaigns/{campaign_id}/results``."""

    clinic_id: str = Field(..., min_length=1, max_length=200,
                           description="The clinic that started the campaign.")


class CampaignResults(BaseModel):
    """What a campaign did (``training.campaign_results``; every figure in docs/campaigns.md)."""

    clinic_id: str = Field(description="The clinic the campaign belongs to.")
    campaign_id: str = Field(description="The campaign's id.")
    window_days: int = Field(description="Attribution window after `assigned_at`, days.")
    overall: dict[str, Any] = Field(
        description="contacted, delivered, responded, booked, attended, opted_out, "
        "conversion_rate, revenue, cost, cost_per_reactivation, roi (ratios null over zero)."
    )
    by_channel: list[dict[str, Any]] = Field(
        description="The same block per channel of each patient's first message (`channel`)."
    )
    by_segment: list[dict[str, Any]] = Field(
        description="The same block per segment (`segment`), each with its `versus_holdout`."
    )
    by_attempt: list[dict[str, Any]] = Field(
        description="The same block per message number (`attempt`): bookings before the next."
    )
    versus_holdout: dict[str, Any] = Field(
        description="Treatment against the randomised holdout: members, booked, booking_rate "
        "per arm; incremental_bookings/_rate/_revenue with 95% intervals; enough_data and "
        "members_needed."
    )
    attribution: dict[str, Any] = Field(
        description="The same counts under the latest-contact rule, labelled as such."
    )
    sources: dict[str, str] = Field(
        description="Where members, events, visits and segments came from."
    )
