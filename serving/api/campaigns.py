"""The work behind ``POST /campaigns`` and ``POST /outcomes``, and the outcome-aware /rank view.

Plain functions of the served state, the outcome store and a request, like
:mod:`serving.api.handlers`: the service authenticates, calls these (store writes on a worker
thread) and turns :class:`~serving.api.handlers.ApiError` into a status code.

A campaign draws the list ``/rank`` would give for its filters (``limit`` counts both arms),
splits it at random with a seeded ``numpy`` generator, and records every member with its arm
*before* the answer leaves; only the treatment arm is listed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import threading

import numpy as np
import pandas as pd

from features.config import Settings
from features.outcomes.event_log import EventLog
from features.outcomes.events import clinic_now
from features.outcomes.ingest import ingest
from features.outcomes.store import CampaignExists, OutcomeStore
from features.vocabulary import HOLDOUT, TREATMENT
from serving.api import handlers, sequence_campaigns
from serving.api.campaign_models import (
    CampaignRecord,
    CampaignRequest,
    OutcomesRequest,
    OutcomesResponse,
)
from serving.api.models import PatientRecord
from serving.api.results_state import CampaignResults
from serving.api.state import Served
from serving.targeting import ranking
from serving.targeting.outcome_policy import COLUMNS as POLICY_COLUMNS
from serving.targeting.outcome_policy import POLICY_EVENT_TYPES, OutcomeOverlay
from serving.targeting.ranking import Selection

logger = logging.getLogger(__name__)

# the request fields stored with the campaign (``sequence`` marks a sequence campaign)
RANK_FIELDS: tuple[str, ...] = tuple(
    f for f in CampaignRequest.model_fields if f not in ("campaign_id", "name", "holdout_share",
                                                         "seed", "clinic_id")
)


class Outcomes:
    """The service's outcome store and the in-memory policy overlay built from it.

    Args:
        settings: ``outcomes`` (where the store is) and ``policy`` sections.
        store: an open store (default: the one the settings name).
    """

    def __init__(self, settings: Settings, store: OutcomeStore | None = None) -> None:
        self.settings = settings
        self.store = store or OutcomeStore.from_settings(settings)
        self.overlay = OutcomeOverlay(settings)
        self.overlay.add(self.store.events_frame(types=POLICY_EVENT_TYPES,
                                                 columns=("clinic_id", *POLICY_COLUMNS)))
        self.log = EventLog(self.store)
        self.results = CampaignResults(settings, self.store, self.log)
        self.sequences = sequence_campaigns.Sequences(settings, self.store, self.overlay,
                                                      self.log)
        self._write = threading.Lock()
        # every stored event coded in memory, and the campaigns' members, read off the
        # request path; a request arriving before this is done waits for the log's lock
        self.filled = threading.Thread(target=self._fill, daemon=True, name="outcome-log")
        self.filled.start()

    def _fill(self) -> None:
        self.log.catch_up()
        self.results.preload()

    def warm(self, served: Served) -> threading.Thread:
        """Prepare every stored campaign for a newly served pair, off the request path.

        Why: the first results request of a 500,000-member campaign looks its members'
        segments up in the new snapshot (0.3 s) and the first due list plans every member
        (3 s); both are per served pair, so they are done here once the log is filled, and
        requests find them cached. A request arriving earlier does the same work itself.
        """
        thread = threading.Thread(target=self._warm, args=(served,), daemon=True,
                                  name="outcome-warm")
        thread.start()
        return thread

    def _warm(self, served: Served) -> None:
        self.filled.join()
        try:
            for clinic_id, campaign_id in self.store.campaign_keys():
                if clinic_id not in served.index.clinics:
                    continue
                self.results.warm_segments(clinic_id, campaign_id,
                                           clinic_segments(served, clinic_id), served.index)
                campaign = self.sequences.campaign(clinic_id, campaign_id)[1]
                if campaign is not None:
                    self.sequences.progress(served, clinic_id, campaign)
        except Exception:  # noqa: BLE001 - a request redoes whatever failed here
            logger.exception("preparing the stored campaigns for the served snapshot failed")

    def close(self) -> None:
        """Release the store's connections."""
        self.store.close()


@dataclasses.dataclass(frozen=True)
class StartedCampaign:
    """A recorded campaign and the treatment rows to list."""

    started_at: pd.Timestamp
    seed: int
    treatment: Selection
    holdout_count: int
    sequences: list[list[dict]] | None = None  # planned attempts per treatment row


def policy_day(settings: Settings, on: dt.date | None) -> dt.date:
    """The request's ``on`` day, else today on the service's clock (clinic local)."""
    return on if on is not None else clinic_now(settings).date()


def with_outcomes(
    served: Served, outcomes: Outcomes, clinic_id: str, on: dt.date | None
) -> Served:
    """``served`` whose index honours the clinic's posted outcomes on the policy day.

    Members of the clinic's outreach sequences are kept off while their sequence runs and
    while they rest after it (``policy.sequences.rest_days``).
    """
    day = policy_day(outcomes.settings, on)
    kept_off, key = outcomes.sequences.kept_off(served, clinic_id)
    index = outcomes.overlay.index_for(served.index, clinic_id, day, served.as_of,
                                       kept_off, key)
    return served if index is served.index else dataclasses.replace(served, index=index)


def draw_holdout(members: int, share: float, seed: int) -> np.ndarray:
    """Which of ``members`` (in list order) are held out: exactly ``round(share * members)``.

    A seeded permutation, so the same seed and list give the same arms.
    """
    held = np.zeros(members, dtype=bool)
    held[np.random.default_rng(seed).permutation(members)[: round(share * members)]] = True
    return held


def fresh_seed() -> int:
    """A seed for a campaign that named none (recorded, so the draw stays reproducible)."""
    return int(np.random.SeedSequence().entropy % (2**63 - 1))


def start_campaign(
    served: Served, outcomes: Outcomes, request: CampaignRequest, settings: Settings
) -> StartedCampaign:
    """Draw the list, split it into arms and record the campaign with all its members.

    Raises:
        ApiError: 404 unknown clinic, 409 when the clinic already has the campaign id.
    """
    store = outcomes.store
    if request.campaign_id in store.campaign_ids(request.clinic_id):
        raise handlers.ApiError(409, "this clinic already has a campaign with that id",
                                "campaign_id")
    selection = handlers.select(served, request)
    seed = fresh_seed() if request.seed is None else int(request.seed)
    held = draw_holdout(len(selection.rows), request.holdout_share, seed)
    records = ranking.patient_records(served.index, selection, settings)
    members = pd.DataFrame({
        "patient_id": [r["patient_id"] for r in records],
        "arm": np.where(held, HOLDOUT, TREATMENT),
        "channel": [r["best_channel"] for r in records],
    })
    started = clinic_now(settings).floor("s")
    plans = None
    if request.sequence:
        start = pd.Timestamp(policy_day(settings, request.on))
        plans = sequence_campaigns.plan_treatment(
            served, outcomes.overlay, request.clinic_id, selection.rows[~held], start, started,
            request.channels, settings)
        first = [p[0]["channel"] if p else None for p in plans]
        members.loc[~held, "channel"] = np.asarray(first, dtype=object)
    fields = request.model_dump(mode="json", include=set(RANK_FIELDS))
    try:
        with outcomes._write:
            store.create_campaign(
                request.clinic_id, request.campaign_id, name=request.name, started_at=started,
                holdout_share=request.holdout_share, seed=seed, request=fields, members=members,
            )
    except CampaignExists:
        raise handlers.ApiError(409, "this clinic already has a campaign with that id",
                                "campaign_id") from None
    finally:
        outcomes.sequences.started(request.clinic_id)
    # its members, read back in the store's order for the results, off the request path
    threading.Thread(target=outcomes.results.members, daemon=True, name="campaign-members",
                     args=(request.clinic_id, request.campaign_id)).start()
    keep = ~held
    treatment = Selection(
        rows=selection.rows[keep],
        ranks=np.arange(1, int(keep.sum()) + 1),
        total_eligible=selection.total_eligible,
        channels=selection.channels,
    )
    return StartedCampaign(started, seed, treatment, int(held.sum()), plans)


def campaign_records(
    records: list[PatientRecord], plans: list[list[dict]] | None
) -> list[CampaignRecord]:
    """Treatment records, each with its planned sequence when the campaign has one."""
    plans = plans if plans is not None else [None] * len(records)
    return [CampaignRecord.model_validate({**dict(r), "sequence": plan})
            for r, plan in zip(records, plans, strict=True)]


def due_json(
    served: Served, outcomes: Outcomes, clinic_id: str, campaign_id: str, on: dt.date
) -> bytes:
    """The ``GET /campaigns/{campaign_id}/due`` body: the day's members' cached JSON records
    joined (a day of a large campaign holds hundreds of thousands of attempts: nothing is
    serialised per request).

    Raises:
        ApiError: 404 unknown clinic or campaign, 409 a campaign without sequences.
    """
    known_patients(served, clinic_id)
    record, campaign = outcomes.sequences.campaign(clinic_id, campaign_id)
    if record is None:
        raise handlers.ApiError(404, "this clinic has no campaign with that id", "campaign_id")
    if campaign is None:
        raise handlers.ApiError(409, "the campaign was not started with sequence: true",
                                "campaign_id")
    outcomes.log.catch_up()  # batches stored by another writer too
    progress = outcomes.sequences.progress(served, clinic_id, campaign)
    head = json.dumps({"campaign_id": campaign_id, "on": on.isoformat()})[:-1].encode()
    return head + b', "due": ' + sequence_campaigns.due_json_list(progress, on) + b"}"


def clinic_segments(served: Served, clinic_id: str) -> pd.Series:
    """Each patient's segment in the served snapshot, by patient id (None: unknown).

    Indexed by the clinic's position index, whose hash table the served index keeps: the
    results look their members up in it without hashing the clinic's ids again.
    """
    entry = served.index.clinics[clinic_id]
    rows = entry.orders["probability"].rows
    return pd.Series(served.index.outputs["segment"][rows], index=entry.position.index)


def known_patients(served: Served, clinic_id: str) -> pd.Index:
    """Patient ids of the clinic in the served snapshot (404 when it has none)."""
    entry = served.index.clinics.get(clinic_id)
    if entry is None:
        raise handlers._clinic_error(clinic_id)
    return entry.position.index


def post_outcomes(
    served: Served, outcomes: Outcomes, request: OutcomesRequest, settings: Settings
) -> OutcomesResponse:
    """Check and store a batch, then let the policy overlay see what was stored."""
    patients = known_patients(served, request.clinic_id)
    with outcomes._write:
        result = ingest(outcomes.store, request.clinic_id, request.events, patients, settings)
        outcomes.overlay.add(result.stored, request.clinic_id)
        if result.accepted:  # the rows just stored: what results and due lists read
            outcomes.log.add_batch(request.clinic_id, result.stored, result.seqs)
    return OutcomesResponse(
        accepted=result.accepted,
        duplicates=result.duplicates,
        rejected=len(result.rejected),
        rejections=result.rejected,
    )



def campaign_results(
    served: Served, outcomes: Outcomes, clinic_id: str, campaign_id: str, settings: Settings
) -> dict:
    """The results of one stored campaign of ``clinic_id`` (``training.campaign_results``).

    The service holds no export: members and events are what the outcome store holds, kept
    coded in memory (:mod:`serving.api.results_state`, caught up with the store first), so
    bookings and kept visits are the posted ``booked``/``attended`` events; the answer's
    ``sources`` says so. ``reactivate results --posted-only`` gives the same figures from
    the store.

    Raises:
        ApiError: 404 for a clinic outside the served snapshot or an unknown campaign.
    """
    known_patients(served, clinic_id)
    if campaign_id not in outcomes.store.campaign_ids(clinic_id):
        raise handlers.ApiError(404, "this clinic has no campaign with that id", "campaign_id")
    results = outcomes.results.results(clinic_id, campaign_id,
                                       clinic_segments(served, clinic_id), served.index)
    return {"clinic_id": clinic_id, **results,
            "sources": {**results["sources"], "segments": "served scored snapshot"}}
